#!/usr/bin/env bash
# Installs what the cross-format compliance fixtures need (test/support/build-cross-binaries.ts):
# clang + lld for Mach-O (.dylib via ld64.lld), MinGW-w64 for PE (.dll) and its dlltool, and MinGW-w64's
# g++ (posix threads) for `erpmod build --target win32-x64` of C++ modules; and xmllint, which the tests
# use to validate `erpmod check --format junit` against docs/schemas/junit.xsd. The universal
# Mach-O file is assembled by the test helper itself, so no lipo is needed.
# Idempotent and quiet: does nothing when every tool is already on PATH; prints apt's output only when
# it fails. Debian/Ubuntu only.
set -euo pipefail

need_tools=(clang ld64.lld x86_64-w64-mingw32-gcc x86_64-w64-mingw32-g++-posix x86_64-w64-mingw32-dlltool xmllint)
packages=(clang lld gcc-mingw-w64-x86-64 g++-mingw-w64-x86-64 binutils-mingw-w64-x86-64 libxml2-utils)

missing=()
for tool in "${need_tools[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-cross-toolchains: missing ${missing[*]} and apt-get is not available; install clang, lld, llvm and MinGW-w64 (x86_64) by hand" >&2
  exit 1
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  sudo_cmd=(sudo)
fi

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if ! {
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}"
} >"$log" 2>&1; then
  cat "$log" >&2
  echo "install-cross-toolchains: apt-get failed (packages: ${packages[*]})" >&2
  exit 1
fi

# Debian installs lld's Mach-O driver as ld64.lld-<major> on some releases; expose the plain name.
if ! command -v ld64.lld >/dev/null 2>&1; then
  versioned="$(compgen -c ld64.lld- | sort -V | tail -n 1 || true)"
  if [ -n "$versioned" ]; then
    "${sudo_cmd[@]}" ln -sf "$(command -v "$versioned")" /usr/local/bin/ld64.lld
  fi
fi

still=()
for tool in "${need_tools[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || still+=("$tool")
done
if [ "${#still[@]}" -ne 0 ]; then
  echo "install-cross-toolchains: still missing after install: ${still[*]}" >&2
  exit 1
fi
