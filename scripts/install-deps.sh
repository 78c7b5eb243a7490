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
