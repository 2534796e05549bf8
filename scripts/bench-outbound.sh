#!/usr/bin/env bash
# Outbound figures of `bitconn serve` (bench profile) against its bundled Odoo simulator, each printed beside its
# goal by the outbound_bench example: (a) delivery throughput from an SQLite queue pre-filled with $QUEUED jobs,
# (b) end to end, $EVENTS events triggered by $CALLERS concurrent keep-alive callers, read from the simulator and
# delivered signed to a local receiver, (c) the trigger answer latency p50/p99 of that run and of a run paced at
# $PACED_RATE triggers/s from the same callers. BITCONN=<binary> measures another build of bitconn.
set -euo pipefail
cd "$(dirname "$0")/.."

QUEUED=${QUEUED:-20000}
EVENTS=${EVENTS:-10000}
CALLERS=${CALLERS:-100}
PACED_RATE=${PACED_RATE:-2000}
cargo build -q --profile bench -p bitconn-cli --bin bitconn --example outbound_bench
# The bench profile's artefacts live in the release directory.
OUT=${CARGO_TARGET_DIR:-target}/release
echo "bitconn serve, bench profile, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
RUST_LOG=${RUST_LOG:-info} "$OUT/examples/outbound_bench" "${BITCONN:-$OUT/bitconn}" "$QUEUED" "$EVENTS" "$CALLERS" "$PACED_RATE"
