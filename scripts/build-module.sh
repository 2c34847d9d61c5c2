#!/usr/bin/env bash
# Builds one module for a vendor's scripts and CI: `scripts/build-module.sh [MODULE_DIR] [--target
# <platform>-<arch>]` runs `erpmod build` with the same arguments and exit codes (0 built, 1 the build
# failed or a toolchain is missing, 2 usage). Builds dist/ first when it is missing, so a fresh
# checkout works after `npm install`.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cli="$root/dist/host/cli/erpmod.js"

if [ ! -f "$cli" ] || [ ! -f "$root/dist/host/packaging/build-module-dir.js" ]; then
  # tsc exits non-zero on type errors but still emits; the check below decides whether the build is usable.
  (cd "$root" && npx --no-install tsc -p tsconfig.json >&2) || true
  if [ ! -f "$cli" ]; then
    echo "build-module: cannot build $cli (run npm install, then npx tsc -p tsconfig.json)" >&2
    exit 2
  fi
fi

exec node "$cli" build "$@"
