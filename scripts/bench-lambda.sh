#!/usr/bin/env bash
# Lambda figures of the release `inbound` bootstrap: stripped size, cold start (spawn -> first
# GET /runtime/invocation/next against a local runtime API stub) and peak RSS (VmHWM) over 1,000 invocations
# against the Odoo simulator, with the webhook in moto's DynamoDB. Release builds take several minutes.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-20}
INVOCATIONS=${INVOCATIONS:-1000}
cargo build -q -p bitconn-cli --bin bitconn -p odoo-sim --bin odoo-sim
cargo build -q --release -p inbound --bin inbound --example lambda_bench
BOOTSTRAP=${BOOTSTRAP:-${CARGO_TARGET_DIR:-target}/release/inbound}
BENCH=${CARGO_TARGET_DIR:-target}/release/examples/lambda_bench
source scripts/lib/local-aws.sh

size=$(stat -c %s "$BOOTSTRAP")
python3 -c "import sys; print(f'inbound bootstrap (release, stripped, {sys.argv[2]}): {int(sys.argv[1]) / 1048576:.2f} MiB')" \
  "$size" "$(uname -m)"
RUST_LOG=info "$BENCH" cold-start "$BOOTSTRAP" "$RUNS"
RUST_LOG=info "$BENCH" rss "$BOOTSTRAP" "$EVENTS/apigw-v2-search-base64.json" "$INVOCATIONS"
