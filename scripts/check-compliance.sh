#!/usr/bin/env bash
# The compliance checker for a vendor's CI: `scripts/check-compliance.sh [MODULE_DIR...] [options]`
# runs `erpmod check` with the same arguments and exit codes (0 pass, 1 a module failed, 2 the checker
# could not run). Builds dist/ first when it is missing, so a fresh checkout works after `npm install`.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cli="$root/dist/host/cli/erpmod.js"

if [ ! -f "$cli" ] || [ ! -f "$root/dist/host/compliance/load/load-child.js" ]; then
  # tsc exits non-zero on type errors but still emits; the check below decides whether the build is usable.
  (cd "$root" && npx --no-install tsc -p tsconfig.json >&2) || true
  if [ ! -f "$cli" ]; then
    echo "check-compliance: cannot build $cli (run npm install, then npx tsc -p tsconfig.json)" >&2
    exit 2
  fi
fi

exec node "$cli" check "$@"
