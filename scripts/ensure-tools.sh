#!/usr/bin/env bash
# Installs the external tools the test suite drives, when they are missing:
#   moto_server (DynamoDB/SQS emulator), cfn-lint (infra template), cargo-lambda (Lambda emulator),
#   chromium (browser tests), terminado (terminal benchmark baseline).
set -euo pipefail

need_pip=()
command -v moto_server >/dev/null 2>&1 || need_pip+=("moto[server]")
command -v cfn-lint >/dev/null 2>&1 || need_pip+=("cfn-lint")
command -v cargo-lambda >/dev/null 2>&1 || need_pip+=("cargo-lambda")
# The reference Standard Webhooks verifier that checks our outbound signatures.
python3 -c "import standardwebhooks" >/dev/null 2>&1 || need_pip+=("standardwebhooks")
if [ ${#need_pip[@]} -gt 0 ]; then
  echo "installing with pip: ${need_pip[*]}"
  python3 -m pip install --quiet --disable-pip-version-check "${need_pip[@]}"
fi

if ! command -v cargo-nextest >/dev/null 2>&1 && ! cargo nextest --version >/dev/null 2>&1; then
  echo "installing cargo-nextest"
  cargo install --locked cargo-nextest
fi

# The fuzz targets (scripts/fuzz.sh) build with the nightly toolchain through cargo-fuzz.
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz"
  cargo install --locked cargo-fuzz
fi
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal

if ! command -v chromium >/dev/null 2>&1; then
  echo "installing chromium (apt)"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

# terminal-host's browser test drives Debian's chromium with playwright-core (never a downloaded browser).
browser_tests="$(dirname "$0")/../tests/browser"
if [ ! -d "$browser_tests/node_modules/playwright-core" ]; then
  echo "installing the browser test's node packages (npm ci)"
  (cd "$browser_tests" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --silent)
fi

# The npm reference Standard Webhooks verifier, which the outbound tests check signatures with.
verify_node="$(dirname "$0")/../tests/verify-node"
if [ ! -d "$verify_node/node_modules/standardwebhooks" ]; then
  echo "installing the npm Standard Webhooks verifier (npm ci)"
  (cd "$verify_node" && npm ci --no-audit --no-fund --silent)
fi

# pyenv installs console scripts behind shims that need a rehash.
command -v pyenv >/dev/null 2>&1 && pyenv rehash || true

for tool in moto_server cfn-lint cargo-lambda chromium; do
  command -v "$tool" >/dev/null 2>&1 || { echo "missing after install: $tool" >&2; exit 1; }
done
echo "tools ready: moto_server, cfn-lint, cargo-lambda, chromium, cargo-nextest, cargo-fuzz"
