#!/usr/bin/env bash
# Installs mend's build and test dependencies from Debian 12 packages.
# Skips apt entirely when everything is already there (works offline then).
set -euo pipefail
pkgs=(build-essential cmake pkg-config libdnnl-dev libcjson-dev zlib1g-dev libpng-dev libjpeg62-turbo-dev libmicrohttpd-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Opt-in (MEND_FUZZ=1): clang with libFuzzer and its OpenMP for tests/fuzz.
if [ "${MEND_FUZZ:-0}" = "1" ]; then
  fuzz_missing=()
  for p in clang libclang-rt-14-dev libomp-14-dev; do
    dpkg -s "$p" >/dev/null 2>&1 || fuzz_missing+=("$p")
  done
  if [ ${#fuzz_missing[@]} -gt 0 ]; then
    echo "installing for MEND_FUZZ: ${fuzz_missing[*]}"
    sudo_cmd=""
    [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${fuzz_missing[@]}"
  fi
fi

# Opt-in (MEND_E2E=1): the browser end-to-end test of the web page needs
# Debian's chromium and playwright-core (no browser download) in tests/e2e.
if [ "${MEND_E2E:-0}" = "1" ]; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  e2e_missing=()
  command -v chromium >/dev/null 2>&1 || e2e_missing+=(chromium)
  command -v node >/dev/null 2>&1 || e2e_missing+=(nodejs)
  command -v npm >/dev/null 2>&1 || e2e_missing+=(npm)
  if [ ${#e2e_missing[@]} -gt 0 ]; then
    echo "installing for MEND_E2E: ${e2e_missing[*]}"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${e2e_missing[@]}"
  fi
  e2e_dir="$(cd "$(dirname "$0")/.." && pwd)/tests/e2e"
  if [ ! -d "$e2e_dir/node_modules/playwright-core" ]; then
    if [ -f "$e2e_dir/package-lock.json" ]; then
      (cd "$e2e_dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
    else
      (cd "$e2e_dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-audit --no-fund)
    fi
  fi
fi
