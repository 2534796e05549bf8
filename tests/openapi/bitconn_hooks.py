"""schemathesis hooks for the contract run: generated `Idempotency-Key`s are made unique for nine cases in ten.

Hypothesis draws short keys over and over ("0", "00"), so without this most webhook calls would be answered
`409 idempotency_key_reused` before their body is even read; the tenth case keeps its drawn key, so reuse is
still exercised.
"""

import itertools
import re

import schemathesis

_COUNTER = itertools.count()
_VALID_KEY = re.compile(r"^[!-~]{1,200}$")


@schemathesis.hook
def before_call(context, case, **kwargs):
    headers = case.headers
    if not headers:
        return
    key = headers.get("Idempotency-Key")
    n = next(_COUNTER)
    if isinstance(key, str) and n % 10 and _VALID_KEY.match(key):
        headers["Idempotency-Key"] = f"{key}-{n}"
