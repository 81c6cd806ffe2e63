#!/usr/bin/env bash
# Rebuild the dashboard bundle committed in server/static from web/src (needs Node and npm; pip users do not).
set -euo pipefail
cd "$(dirname "$0")/../web"
if [ -f package-lock.json ]; then npm ci --no-audit --no-fund >/dev/null; else npm install --no-audit --no-fund >/dev/null; fi
npx --no-install tsc --noEmit
node build.mjs
ls -l ../server/static
