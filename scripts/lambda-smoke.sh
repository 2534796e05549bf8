#!/usr/bin/env bash
# Runs the `inbound` and `schema` functions under cargo-lambda's emulator (`cargo lambda watch`) and invokes
# them with the committed API Gateway / function URL fixtures (`cargo lambda invoke --data-file`), against
# moto's DynamoDB and the Odoo simulator. Fails unless every invocation answers the expected HTTP status.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo-lambda >/dev/null || { echo "cargo-lambda missing: run scripts/ensure-tools.sh" >&2; exit 1; }
cargo build -q -p bitconn-cli --bin bitconn -p odoo-sim --bin odoo-sim -p inbound -p schema
source scripts/lib/local-aws.sh

invoke_all() {
  local function=$1 port=$2; shift 2
  local watch_log="$WORK/watch-$function.log"
  # cargo lambda watch forwards its environment (BITCONN_STORE, AWS_*) to the function.
  RUST_LOG=info cargo lambda watch -q --ignore-changes -p "$function" -A 127.0.0.1 -P "$port" >"$watch_log" 2>&1 &
  PIDS+=($!)
  wait_port "$port" "cargo lambda watch ($function)"
  local spec event expected answer status
  for spec in "$@"; do
    event=${spec%%=*}
    expected=${spec##*=}
    answer=$(cargo lambda invoke "$function" -A 127.0.0.1 -P "$port" --data-file "$EVENTS/$event" -o json) || {
      echo "invoke $function $event failed; emulator log:" >&2; cat "$watch_log" >&2; exit 1; }
    status=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["statusCode"])' <<<"$answer")
    if [ "$status" != "$expected" ]; then
      echo "FAIL $function $event: status $status, expected $expected: $answer" >&2
      exit 1
    fi
    echo "ok   $function $event -> $status"
  done
}

invoke_all inbound "$(free_port)" \
  apigw-v2-create.json=200 apigw-v2-search-base64.json=200 apigw-v2-bad-secret.json=401 \
  function-url-search.json=200 apigw-rest-v1-read.json=200
invoke_all schema "$(free_port)" apigw-v2-schema.json=200 apigw-v2-required.json=200
echo "lambda smoke: all invocations answered as expected"
