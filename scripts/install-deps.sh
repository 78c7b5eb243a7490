#!/usr/bin/env bash
# Installs mend's build and test dependencies from Debian 12 packages.
# Skips apt entirely when everything is already there (works offline then).
set -euo pipefail
sudo_cmd=""
[ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"

# apt_install WHY PKG...: installs the packages that are missing (nothing,
# and no apt at all, when every one is there).
apt_install() {
  local why=$1 missing=() p
  shift
  for p in "$@"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  [ ${#missing[@]} -gt 0 ] || return 0
  echo "installing${why:+ for $why}: ${missing[*]}"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

apt_install "" build-essential cmake pkg-config libdnnl-dev libcjson-dev zlib1g-dev libpng-dev \
  libjpeg62-turbo-dev libwebp-dev libmicrohttpd-dev

# Opt-in (MEND_FUZZ=1): clang with libFuzzer and its OpenMP for tests/fuzz.
if [ "${MEND_FUZZ:-0}" = "1" ]; then
  apt_install MEND_FUZZ clang libclang-rt-14-dev libomp-14-dev
fi

# Opt-in (MEND_E2E=1): the browser end-to-end test of the web page needs
# Debian's chromium and playwright-core (no browser download) in tests/e2e.
if [ "${MEND_E2E:-0}" = "1" ]; then
  e2e_pkgs=()
  command -v chromium >/dev/null 2>&1 || e2e_pkgs+=(chromium)
  command -v node >/dev/null 2>&1 || e2e_pkgs+=(nodejs)
  command -v npm >/dev/null 2>&1 || e2e_pkgs+=(npm)
  [ ${#e2e_pkgs[@]} -eq 0 ] || apt_install MEND_E2E "${e2e_pkgs[@]}"
  e2e_dir="$(cd "$(dirname "$0")/.." && pwd)/tests/e2e"
  if [ ! -d "$e2e_dir/node_modules/playwright-core" ]; then
    if [ -f "$e2e_dir/package-lock.json" ]; then
      (cd "$e2e_dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)
    else
      (cd "$e2e_dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-audit --no-fund)
    fi
  fi
fi
