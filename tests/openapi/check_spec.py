#!/usr/bin/env python3
"""Checks docs/openapi.yaml: a valid OpenAPI 3.1 document, every example in it valid against its schema, and every
request body in docs/examples/ valid and identical to the spec's example of the same name; the statuses and codes
the terminal-token function answers (read from its source) are those the spec lists.

Usage: check_spec.py [REPO_ROOT]. Prints one line per problem and exits 1 when there is any.
"""

import json
import pathlib
import re
import sys

import yaml
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_spec
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

BASE = "urn:bitconn:openapi"
WEBHOOK_BODY = ("paths", "/bitconn/webhook/{id}", "post", "requestBody", "content", "application/json")


def pointer(parts):
    return "#/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in parts)


class Checker:
    def __init__(self, spec):
        self.spec = spec
        resource = Resource.from_contents(spec, default_specification=DRAFT202012)
        self.registry = Registry().with_resource(BASE, resource)
        self.problems = []
        self.checked = 0

    def validator(self, schema_at):
        return Draft202012Validator({"$ref": BASE + pointer(schema_at)}, registry=self.registry)

    def check(self, value, schema_at, where):
        self.checked += 1
        for error in self.validator(schema_at).iter_errors(value):
            path = "/".join(str(p) for p in error.absolute_path)
            self.problems.append(f"{where}: {error.message} (at /{path})")

    def media(self, media, at, where):
        if "schema" not in media:
            return
        schema_at = at + ("schema",)
        if "example" in media:
            self.check(media["example"], schema_at, f"{where} example")
        for name, example in media.get("examples", {}).items():
            if "value" in example:
                self.check(example["value"], schema_at, f"{where} example {name!r}")

    def walk_schemas(self, node, at):
        """Schema-level `examples` lists, wherever a schema holds one."""
        if isinstance(node, dict):
            if isinstance(node.get("examples"), list) and ("type" in node or "oneOf" in node or "$ref" in node):
                for i, example in enumerate(node["examples"]):
                    self.check(example, at, f"{pointer(at)} examples[{i}]")
            for key, child in node.items():
                self.walk_schemas(child, at + (key,))
        elif isinstance(node, list):
            for i, child in enumerate(node):
                self.walk_schemas(child, at + (i,))

    def at(self, parts):
        node = self.spec
        for part in parts:
            part = part.replace("~1", "/").replace("~0", "~") if isinstance(part, str) else part
            node = node[part]
        return node

    def run(self):
        for path, item in self.spec["paths"].items():
            for verb, op in item.items():
                if verb not in ("get", "post", "put", "patch", "delete"):
                    continue
                where = f"{verb.upper()} {path}"
                params = [(("paths", path, verb, "parameters", i), p) for i, p in enumerate(op.get("parameters", []))]
                params += [(("paths", path, "parameters", i), p) for i, p in enumerate(item.get("parameters", []))]
                for at, param in params:
                    if "$ref" in param:
                        at = tuple(param["$ref"][2:].split("/"))
                        param = self.at(at)
                    if "example" in param and "schema" in param:
                        self.check(param["example"], at + ("schema",), f"{where} parameter {param['name']}")
                body = op.get("requestBody", {})
                for ctype, media in body.get("content", {}).items():
                    self.media(media, ("paths", path, verb, "requestBody", "content", ctype), where + " request")
                for status, response in op.get("responses", {}).items():
                    at = ("paths", path, verb, "responses", status)
                    if "$ref" in response:
                        at = tuple(response["$ref"][2:].split("/"))
                        response = self.at(at)
                    for ctype, media in response.get("content", {}).items():
                        self.media(media, at + ("content", ctype), f"{where} {status}")
        self.walk_schemas(self.spec["components"]["schemas"], ("components", "schemas"))


def check_terminal_token(spec, root, problems):
    """Every (status, code) the terminal-token function answers, read from its source, is in the spec."""
    source = (root / "functions" / "terminal-token" / "src" / "lib.rs").read_text()
    answers = set(re.findall(r'Reply::error\(\s*(\d{3}),\s*"([a-z_]+)"', source))
    if len(answers) < 5:
        problems.append(f"terminal-token: found only {sorted(answers)} in its source")
    operation = spec["paths"]["/bitconn/terminal/token"]["post"]
    codes = set(spec["components"]["schemas"]["TerminalError"]["properties"]["error"]["enum"])
    for status, code in sorted(answers):
        if status not in operation["responses"]:
            problems.append(f"terminal-token answers {status} ({code}), which the spec does not list")
        elif f"`{code}`" not in operation["responses"][status]["description"]:
            problems.append(f"terminal-token answers {status} {code}; the spec's {status} does not name it")
        if code not in codes:
            problems.append(f"terminal-token answers {code}, which TerminalError does not list")


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    spec = yaml.safe_load((root / "docs" / "openapi.yaml").read_text())
    validate_spec(spec)
    checker = Checker(spec)
    checker.run()
    examples = checker.at(WEBHOOK_BODY).get("examples", {})
    # The outbound payload examples are payload specs for `bitconn outbound set`, not request bodies
    # (tests/integration/tests/outbound_examples.rs exercises them).
    files = sorted(
        f for f in (root / "docs" / "examples").glob("*.json")
        if not (f.stem.startswith("manual_payload_") or f.stem == "outbound_send")
    )
    if not files:
        checker.problems.append("docs/examples/ has no example")
    for file in files:
        body = json.loads(file.read_text())
        checker.check(body, WEBHOOK_BODY + ("schema",), f"docs/examples/{file.name}")
        named = examples.get(file.stem)
        if named is None:
            checker.problems.append(f"docs/examples/{file.name} has no example {file.stem!r} in the spec")
        elif named.get("value") != body:
            checker.problems.append(f"docs/examples/{file.name} differs from the spec's example {file.stem!r}")
    check_terminal_token(spec, root, checker.problems)
    for problem in checker.problems:
        print(problem)
    print(f"openapi: {checker.checked} examples checked, {len(checker.problems)} problems")
    return 1 if checker.problems else 0


if __name__ == "__main__":
    sys.exit(main())
