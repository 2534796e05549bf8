#!/usr/bin/env bash
# Lambda figures of the release bootstraps (inbound, schema, terminal-token, trigger, dispatch, poll) against a hello-world baseline
# (functions/hello-baseline, the same release profile): stripped sizes; cold start (spawn -> first
# GET /runtime/invocation/next against a local runtime API stub), every function timed in each of $RUNS rounds
# with the order rotated, medians and the ratio to the baseline; peak RSS (VmHWM) over $INVOCATIONS invocations
# against the Odoo simulator, with the webhook in moto's DynamoDB and KMS. Release builds take several minutes.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-7}
INVOCATIONS=${INVOCATIONS:-1000}
FUNCTIONS=(inbound schema terminal-token trigger dispatch poll)
cargo build -q --locked --workspace --bins --tests
cargo build -q --release -p hello-baseline -p inbound -p schema -p terminal-token -p trigger -p dispatch \
  -p poll --bin hello-baseline --bin inbound --bin schema --bin terminal-token --bin trigger --bin dispatch --bin poll \
  --example lambda_bench
RELEASE=${CARGO_TARGET_DIR:-target}/release
BENCH=$RELEASE/examples/lambda_bench
source scripts/lib/local-aws.sh

# terminal-token checks logins against the simulator and signs with a throwaway secret.
export ODOO_URL="http://127.0.0.1:$SIM_PORT" ODOO_DB=odoo18
WS_SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
export WS_SECRET_KEY

pairs=("hello-baseline=$RELEASE/hello-baseline")
for function in "${FUNCTIONS[@]}"; do pairs+=("$function=$RELEASE/$function"); done
echo "bootstraps: release, stripped, $(uname -m)"
RUST_LOG=info "$BENCH" compare "$RUNS" "${pairs[@]}"

python3 - "$EVENTS" <<'PY'
import json, sys
event = json.load(open(f"{sys.argv[1]}/apigw-v2-schema.json"))
body = json.dumps({"login": "admin", "password": "admin", "mode": "bash"})
event.update(routeKey="POST /terminal/token", rawPath="/terminal/token", rawQueryString="", body=body)
event["requestContext"].update(routeKey="POST /terminal/token", http={**event["requestContext"]["http"], "method": "POST", "path": "/terminal/token"})
for key in ("queryStringParameters", "pathParameters"):
    event.pop(key, None)
event["headers"].pop("authorization", None)
json.dump(event, open(f"{sys.argv[1]}/terminal-token.json", "w"))
PY
# dispatch gets the SQS fixture with a job of the webhook on a real record; every invocation delivers it to the
# local receiver (the first one deletes the message, the others find it gone).
python3 - "$EVENTS/sqs-dispatch.json" "$QUEUE_URL" >"$EVENTS/sqs-dispatch-bench.json" <<'PY'
import boto3, json, os, sys
event = json.load(open(sys.argv[1]))
sqs = boto3.client("sqs", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
record = event["Records"][0]
sqs.send_message(QueueUrl=sys.argv[2], MessageBody=record["body"])
got = sqs.receive_message(QueueUrl=sys.argv[2], VisibilityTimeout=900)["Messages"][0]
record.update(messageId=got["MessageId"], receiptHandle=got["ReceiptHandle"])
json.dump(event, sys.stdout)
PY
for spec in inbound=apigw-v2-search-base64.json schema=apigw-v2-schema.json terminal-token=terminal-token.json \
  trigger=apigw-v2-outbound-trigger.json dispatch=sqs-dispatch-bench.json \
  poll=eventbridge-schedule.json; do
  function=${spec%%=*}
  echo -n "$function: "
  RUST_LOG=info "$BENCH" rss "$RELEASE/$function" "$EVENTS/${spec##*=}" "$INVOCATIONS"
done
