#!/usr/bin/env bash
# Runs the `inbound`, `schema`, `trigger`, `dispatch` and `poll` functions under cargo-lambda's emulator (`cargo lambda
# watch --only-lambda-apis`, each function's debug binary started against it, as Lambda starts a bootstrap) and invokes them with the committed API Gateway / function URL / SQS fixtures (`cargo lambda invoke
# --data-file`), against moto's DynamoDB and SQS and the Odoo simulator. Fails unless every HTTP invocation
# answers the expected status, the job the trigger queued is delivered by dispatch with no batch failure, and a
# scheduled poll round answers its summary.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo-lambda >/dev/null || { echo "cargo-lambda missing: run scripts/ensure-tools.sh" >&2; exit 1; }
# The binaries with the features the test suite resolved (tests included), so nothing but the binaries is built
# again: a per-package build (`-p`, or cargo lambda building each function) resolves other features and builds
# most of the dependency tree a second time.
cargo build -q --locked --workspace --bins --tests
BIN=${CARGO_TARGET_DIR:-target}/debug
source scripts/lib/local-aws.sh

# The emulator on $port, and the function's binary polling it with the environment Lambda gives a bootstrap (and
# this script's BITCONN_STORE, AWS_*). Both logs go to $3.
start_function() {
  local function=$1 port=$2 log=$3
  cargo lambda watch -q --only-lambda-apis -A 127.0.0.1 -P "$port" >"$log" 2>&1 &
  PIDS+=($!)
  wait_port "$port" "cargo lambda watch ($function)"
  AWS_LAMBDA_FUNCTION_NAME=_ AWS_LAMBDA_FUNCTION_VERSION=1 AWS_LAMBDA_FUNCTION_MEMORY_SIZE=1024 \
    AWS_LAMBDA_RUNTIME_API="http://127.0.0.1:$port/.rt" RUST_LOG=info "$BIN/$function" >>"$log" 2>&1 &
  PIDS+=($!)
}

invoke_all() {
  local function=$1 port=$2; shift 2
  local watch_log="$WORK/watch-$function.log"
  start_function "$function" "$port" "$watch_log"
  local spec event expected answer status
  for spec in "$@"; do
    event=${spec%%=*}
    expected=${spec##*=}
    answer=$(cargo lambda invoke _ -A 127.0.0.1 -P "$port" --data-file "$EVENTS/$event" -o json) || {
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
invoke_all trigger "$(free_port)" apigw-v2-outbound-trigger.json=202

# The SQS fixture, its record replaced by the job the trigger queued (as the event source would hand it over).
python3 - "$EVENTS/sqs-dispatch.json" "$QUEUE_URL" >"$EVENTS/sqs-dispatch-live.json" <<'PY'
import boto3, json, os, sys
event = json.load(open(sys.argv[1]))
sqs = boto3.client("sqs", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
got = sqs.receive_message(QueueUrl=sys.argv[2], MaxNumberOfMessages=10, VisibilityTimeout=900,
                          MessageSystemAttributeNames=["All"]).get("Messages", [])
assert len(got) == 1, f"the trigger queued {len(got)} jobs, not 1"
record = dict(event["Records"][0], messageId=got[0]["MessageId"], receiptHandle=got[0]["ReceiptHandle"],
              body=got[0]["Body"], attributes=got[0]["Attributes"], md5OfBody=got[0]["MD5OfBody"],
              eventSourceARN="arn:aws:sqs:us-east-1:123456789012:local-outbound")
json.dump(dict(event, Records=[record]), sys.stdout)
PY
port=$(free_port)
start_function dispatch "$port" "$WORK/watch-dispatch.log"
answer=$(cargo lambda invoke _ -A 127.0.0.1 -P "$port" --data-file "$EVENTS/sqs-dispatch-live.json" -o json) || {
  echo "invoke dispatch failed; emulator log:" >&2; cat "$WORK/watch-dispatch.log" >&2; exit 1; }
failures=$(python3 -c 'import json,sys; print(len(json.load(sys.stdin)["batchItemFailures"]))' <<<"$answer")
delivered=$(grep -c '^evt_' "$RECEIVED" 2>/dev/null || true)
if [ "$failures" != 0 ] || [ "$delivered" != 1 ]; then
  echo "FAIL dispatch: $failures batch failures, $delivered deliveries: $answer" >&2; cat "$WORK/watch-dispatch.log" >&2
  exit 1
fi
event_id=$(head -n1 "$RECEIVED")
"$BIN/bitconn" deliveries list | grep -q "$event_id" || {
  echo "FAIL dispatch: $event_id is not in the deliveries table" >&2; exit 1; }
echo "ok   dispatch sqs-dispatch.json (the queued job) -> delivered, no batch failures, in the delivery log"

# A scheduled round: the store has no trigger with --poll, so it lists the webhooks and queues nothing.
port=$(free_port)
start_function poll "$port" "$WORK/watch-poll.log"
answer=$(cargo lambda invoke _ -A 127.0.0.1 -P "$port" --data-file "$EVENTS/eventbridge-schedule.json" -o json) || {
  echo "invoke poll failed; emulator log:" >&2; cat "$WORK/watch-poll.log" >&2; exit 1; }
python3 -c 'import json,sys; a=json.load(sys.stdin); assert a["polled"] == 0 and a["queued"] == 0, a' <<<"$answer" || {
  echo "FAIL poll: $answer" >&2; cat "$WORK/watch-poll.log" >&2; exit 1; }
echo "ok   poll eventbridge-schedule.json -> $answer"
echo "lambda smoke: all invocations answered as expected"
