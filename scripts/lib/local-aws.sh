# Sourced by lambda-smoke.sh and bench-lambda.sh: a throwaway local "AWS" (moto DynamoDB, KMS and SQS), the Odoo
# simulator and one webhook on it delivering outbound to a local receiver, with the fixture events rewritten
# for that webhook.
# Needs: the debug bitconn and odoo-sim binaries built (under $CARGO_TARGET_DIR, else target/). Sets: WORK, EVENTS, WEBHOOK_ID, WEBHOOK_SECRET,
# BITCONN_STORE, BITCONN_SEAL, BITCONN_QUEUE, QUEUE_URL, RECEIVED (the receiver's log of webhook-ids) and the
# AWS_* variables. Everything it starts is stopped on exit.

FIXTURE_ID=6f1c2a4e-8b3d-4c5e-9a7f-0d1e2f3a4b5c
FIXTURE_SECRET=bcw_fixture-secret-do-not-use-outside-tests-000

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

wait_port() {
  local port=$1 what=$2
  for _ in $(seq 1 300); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "$what did not start on port $port" >&2
  exit 1
}

MOTO_PORT=$(free_port)
moto_server -H 127.0.0.1 -p "$MOTO_PORT" >"$WORK/moto.log" 2>&1 &
PIDS+=($!)
SIM_PORT=$(free_port)
${CARGO_TARGET_DIR:-target}/debug/odoo-sim --listen "127.0.0.1:$SIM_PORT" >"$WORK/sim.log" 2>&1 &
PIDS+=($!)
wait_port "$MOTO_PORT" moto_server
wait_port "$SIM_PORT" odoo-sim

export AWS_ENDPOINT_URL="http://127.0.0.1:$MOTO_PORT" AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export BITCONN_STORE=dynamodb:local-webhooks
unset AWS_PROFILE
# Credentials are sealed with a KMS key, as in AWS: one created in moto's KMS (the CLI seals, the functions open).
BITCONN_SEAL="kms:$(python3 -c 'import boto3, os; print(boto3.client("kms", endpoint_url=os.environ["AWS_ENDPOINT_URL"]).create_key()["KeyMetadata"]["KeyId"])')"
export BITCONN_SEAL

${CARGO_TARGET_DIR:-target}/debug/bitconn store init >/dev/null
created=$(BITCONN_ODOO_API_KEY=sim-admin-api-key ${CARGO_TARGET_DIR:-target}/debug/bitconn webhook create --json --name local \
  --odoo-url "http://127.0.0.1:$SIM_PORT" --odoo-db odoo18 --odoo-login admin \
  --models res.partner,sale.order,sale.order.line,product.product,res.country)
WEBHOOK_ID=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])' <<<"$created")
WEBHOOK_SECRET=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])' <<<"$created")

# The outbound queue and its dead-letter queue (with redrive), as the SAM template creates them; dedup claims go
# to the idempotency table `bitconn store init` created.
QUEUE_URL=$(python3 - <<'PY'
import boto3, json, os
sqs = boto3.client("sqs", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
dlq = sqs.create_queue(QueueName="local-outbound-dlq")["QueueUrl"]
arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
policy = json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 30})
url = sqs.create_queue(QueueName="local-outbound", Attributes={"VisibilityTimeout": "900", "RedrivePolicy": policy})["QueueUrl"]
print(url)
PY
)
export BITCONN_QUEUE="sqs:$QUEUE_URL?dlq=${QUEUE_URL}-dlq&dedup_table=local-idempotency"

# A receiver for outbound deliveries: answers 200 and appends each webhook-id to $RECEIVED.
RECEIVED="$WORK/received.log"
RECEIVER_PORT=$(free_port)
python3 - "$RECEIVER_PORT" "$RECEIVED" >"$WORK/receiver.log" 2>&1 <<'PY' &
import http.server, sys
port, log = int(sys.argv[1]), sys.argv[2]
class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        with open(log, "a") as f:
            f.write(self.headers.get("webhook-id", "") + "\n")
        self.send_response(200)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"{}")
http.server.ThreadingHTTPServer(("127.0.0.1", port), Hook).serve_forever()
PY
PIDS+=($!)
wait_port "$RECEIVER_PORT" "outbound receiver"
${CARGO_TARGET_DIR:-target}/debug/bitconn outbound set "$WEBHOOK_ID" \
  --url "http://127.0.0.1:$RECEIVER_PORT/hook" --allow-cidr 127.0.0.0/8 >/dev/null

EVENTS="$WORK/events"
mkdir -p "$EVENTS"
for event in tests/fixtures/lambda/*.json; do
  sed -e "s/$FIXTURE_ID/$WEBHOOK_ID/g" -e "s/$FIXTURE_SECRET/$WEBHOOK_SECRET/g" "$event" >"$EVENTS/$(basename "$event")"
done
