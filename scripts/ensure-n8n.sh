#!/usr/bin/env bash
# Installs the n8n release the docs/n8n pack is tested with into tests/n8n/node_modules (git-ignored), unless
# that exact version is already there. tests/n8n/package.json pins it and maps its `xlsx` dependency, which
# points outside the npm registry, to the registry's @e965/xlsx; package-lock.json pins everything else.
set -euo pipefail
cd "$(dirname "$0")/../tests/n8n"

want=$(node -p 'require("./package.json").dependencies.n8n')
have=$(node -p 'try { require("./node_modules/n8n/package.json").version } catch { "" }')
if [ "$have" = "$want" ] && [ -x node_modules/.bin/n8n ]; then
  exit 0
fi

echo "installing n8n $want into tests/n8n/node_modules (npm; once, a few minutes)"
start=$(date +%s)
# Without a downloadable prebuilt sqlite3 binding, npm compiles SQLite itself; the system's library is faster.
if [ -f /usr/include/sqlite3.h ]; then export npm_config_sqlite=/usr; fi
npm ci --no-audit --no-fund --loglevel=error
echo "n8n $want installed in $(( $(date +%s) - start )) s"
