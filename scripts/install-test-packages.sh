#!/usr/bin/env bash
# Installs the Debian packages the test suite runs against, so that a fresh machine needs nothing by hand:
# - clang + lld (Mach-O .dylib via ld64.lld), MinGW-w64 gcc/g++ (posix threads) and its dlltool (PE .dll)
#   for the checker's cross-format fixtures and `erpmod build --target win32-x64`;
# - xmllint, which validates `erpmod check --format junit` against docs/schemas/junit.xsd;
# - bubblewrap, the sandbox of the checker's load phase;
# - nginx, the real reverse proxy the operator-surface tests put in front of the host;
# - chromium, the real browser the console's end-to-end tests drive through playwright-core;
# - postgresql, the server the PostgreSQL store's tests start in temp directories (initdb + pg_ctl).
# The universal Mach-O file is assembled by the test helper itself, so no lipo is needed.
# Idempotent and quiet: does nothing when every tool is already there; prints apt's output only when it
# fails. Debian/Ubuntu only.
set -euo pipefail

# tool on PATH (or absolute path) → the Debian package that provides it
declare -A package_of=(
  [clang]=clang
  [ld64.lld]=lld
  [x86_64-w64-mingw32-gcc]=gcc-mingw-w64-x86-64
  [x86_64-w64-mingw32-g++-posix]=g++-mingw-w64-x86-64
  [x86_64-w64-mingw32-dlltool]=binutils-mingw-w64-x86-64
  [xmllint]=libxml2-utils
  [bwrap]=bubblewrap
  [/usr/sbin/nginx]=nginx
  [/usr/bin/chromium]=chromium
  [initdb]=postgresql
)

has_tool() {
  case "$1" in
    # Debian keeps the server's programs under a versioned directory, off PATH.
    initdb) compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null ;;
    /*) [ -x "$1" ] ;;
    *) command -v "$1" >/dev/null 2>&1 ;;
  esac
}

missing_tools() {
  local tool
  for tool in "${!package_of[@]}"; do
    has_tool "$tool" || echo "$tool"
  done
}

missing=($(missing_tools))
if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-test-packages: missing ${missing[*]} and apt-get is not available; install them by hand" >&2
  exit 1
fi

packages=()
for tool in "${missing[@]}"; do
  packages+=("${package_of[$tool]}")
done

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  sudo_cmd=(sudo)
fi

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
# nginx's package would start a system-wide server on port 80: the tests run their own instances.
if ! {
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -qq --no-install-recommends "${packages[@]}"
} >"$log" 2>&1; then
  cat "$log" >&2
  echo "install-test-packages: apt-get failed (packages: ${packages[*]})" >&2
  exit 1
fi

# Debian installs lld's Mach-O driver as ld64.lld-<major> on some releases; expose the plain name.
if ! command -v ld64.lld >/dev/null 2>&1; then
  versioned="$(compgen -c ld64.lld- | sort -V | tail -n 1 || true)"
  if [ -n "$versioned" ]; then
    "${sudo_cmd[@]}" ln -sf "$(command -v "$versioned")" /usr/local/bin/ld64.lld
  fi
fi

still=($(missing_tools))
if [ "${#still[@]}" -ne 0 ]; then
  echo "install-test-packages: still missing after install: ${still[*]}" >&2
  exit 1
fi
