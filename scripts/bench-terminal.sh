#!/usr/bin/env bash
# terminal-host vs terminado (the terminal server behind Jupyter) on this machine, same bash, same Rust client:
#   keystroke echo round trip p50/p99, throughput of `cat` of a 100 MB file, and terminal-host's peak RSS
#   during a `yes` flood read by a slow client. Usage: scripts/bench-terminal.sh [keystrokes] [file MB]
set -euo pipefail
cd "$(dirname "$0")/.."

KEYS="${1:-500}"
FILE_MB="${2:-100}"
WORK="$(mktemp -d)"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

python3 -c 'import terminado' 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check terminado

if [ -z "${SKIP_BUILD:-}" ]; then
  echo "building (bench profile)..." >&2
  cargo build --quiet --profile bench -p terminal-host --bin terminal-host --example bench-client
fi
BIN=${CARGO_TARGET_DIR:-target}/release/terminal-host
CLIENT=${CARGO_TARGET_DIR:-target}/release/examples/bench-client

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; exit 1; }

# ASCII so both servers carry the same bytes (terminado sends text frames).
head -c $((FILE_MB * 742500)) /dev/urandom | base64 -w 100 > "$WORK/data.txt"

export WS_SECRET_KEY="bench-key-$(head -c 24 /dev/urandom | base64)"
start_host() {
  local port; port="$(free_port)"
  WS_PORT="$port" WS_BASH_COMMAND="/bin/bash --noprofile --norc" WS_SHELL_ENV="PS1=PROMPT>,HISTFILE=/dev/null" \
    WS_MAX_SESSIONS=8 RUST_LOG=warn "$BIN" 2>"$WORK/host.log" &
  HOST_PID=$!; PIDS+=("$HOST_PID"); wait_port "$port"; HOST_URL="ws://127.0.0.1:$port/ws"
}

cat > "$WORK/terminado_app.py" <<'PY'
import os, sys, tornado.web, tornado.ioloop, terminado
# Set here: a shell script between us and the shell (a pyenv shim) would drop PS1 from the environment.
os.environ.update(PS1="PROMPT>", HISTFILE="/dev/null")
manager = terminado.UniqueTermManager(shell_command=["/bin/bash", "--noprofile", "--norc"])
app = tornado.web.Application([(r"/websocket", terminado.TermSocket, {"term_manager": manager})])
app.listen(int(sys.argv[1]), "127.0.0.1")
tornado.ioloop.IOLoop.current().start()
PY
TPORT="$(free_port)"
python3 "$WORK/terminado_app.py" "$TPORT" 2>"$WORK/terminado.log" &
PIDS+=("$!"); wait_port "$TPORT"; TURL="ws://127.0.0.1:$TPORT/websocket"

start_host
echo "running: $KEYS keystrokes, cat of $(( $(stat -c %s "$WORK/data.txt") / 1000000 )) MB, each against both servers" >&2
{
  "$CLIENT" host "$HOST_URL" echo "$KEYS"
  "$CLIENT" terminado "$TURL" echo "$KEYS"
  "$CLIENT" host "$HOST_URL" cat "$WORK/data.txt"
  "$CLIENT" terminado "$TURL" cat "$WORK/data.txt"
} > "$WORK/results.jsonl"
RUN_HWM="$(awk '/VmHWM/ {print $2}' "/proc/$HOST_PID/status")"
kill "$HOST_PID"

# A fresh host for the flood, so its peak is the flood's alone.
start_host
IDLE_RSS="$(awk '/VmRSS/ {print $2}' "/proc/$HOST_PID/status")"
"$CLIENT" host "$HOST_URL" flood 10 >> "$WORK/results.jsonl"
FLOOD_HWM="$(awk '/VmHWM/ {print $2}' "/proc/$HOST_PID/status")"

python3 - "$WORK/results.jsonl" "$RUN_HWM" "$IDLE_RSS" "$FLOOD_HWM" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
get = lambda t, m: next(r for r in rows if r["target"] == t and r["mode"] == m)
he, te = get("host", "echo"), get("terminado", "echo")
hc, tc = get("host", "cat"), get("terminado", "cat")
fl = get("host", "flood")
print(f"keystroke echo RTT ({he['n']} keys)  terminal-host p50 {he['p50_us']} us  p99 {he['p99_us']} us | "
      f"terminado p50 {te['p50_us']} us  p99 {te['p99_us']} us")
print(f"  ratio (host/terminado, target <= 1.0): p50 {he['p50_us']/te['p50_us']:.2f}  p99 {he['p99_us']/te['p99_us']:.2f}")
print(f"cat {hc['file_bytes']/1e6:.0f} MB  terminal-host {hc['mb_per_s']:.1f} MB/s ({hc['secs']:.2f} s) | "
      f"terminado {tc['mb_per_s']:.1f} MB/s ({tc['secs']:.2f} s)")
print(f"  ratio (host/terminado, target >= 1.0): {hc['mb_per_s']/tc['mb_per_s']:.2f}")
print(f"terminal-host peak RSS: {int(sys.argv[2])/1024:.1f} MiB over echo+cat; "
      f"yes flood with a slow client ({fl['secs']} s, {fl['bytes_read']/1e6:.1f} MB read): "
      f"idle {int(sys.argv[3])/1024:.1f} MiB -> peak {int(sys.argv[4])/1024:.1f} MiB")
PY
