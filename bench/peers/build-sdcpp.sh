#!/usr/bin/env bash
# Builds stable-diffusion.cpp's CPU command-line tool (sd-cli) from source at
# a pinned commit, for the side-by-side benchmark in bench/peers/run.sh.
# Nothing of it enters this repository: the sources come from git
# repositories given on the command line (or the environment) and the build
# lands in PEERS_DIR, outside the checkout.
#
#   bench/peers/build-sdcpp.sh SDCPP_GIT_DIR GGML_GIT_DIR
#
# SDCPP_GIT_DIR / GGML_GIT_DIR: git directories (bare or not) holding
# leejet/stable-diffusion.cpp and ggml-org/ggml at the commits below (its
# ggml submodule pin). PEERS_DIR defaults to ../mend-peers.
set -euo pipefail

SDCPP_COMMIT=${SDCPP_COMMIT:-97d2990807fe6d558e395f8764198d7c7e7b411c}   # 2026-08-19
GGML_COMMIT=${GGML_COMMIT:-8e800cef2948046cc47f9db6090491c6128ca42c}     # sd.cpp's ggml submodule at that commit
here=$(cd "$(dirname "$0")/../.." && pwd)
PEERS_DIR=${PEERS_DIR:-$here/../mend-peers}
sdcpp_git=${1:-${SDCPP_GIT:-}}
ggml_git=${2:-${GGML_GIT:-}}
if [ -z "$sdcpp_git" ] || [ -z "$ggml_git" ]; then
    echo "usage: $0 SDCPP_GIT_DIR GGML_GIT_DIR   (git directories of stable-diffusion.cpp and ggml)" >&2
    exit 2
fi

src=$PEERS_DIR/sdcpp-$SDCPP_COMMIT
if [ ! -x "$src/build/bin/sd-cli" ]; then
    rm -rf "$src" && mkdir -p "$src"
    # A partial mirror may lack some large blobs (pictures, videos, the
    # tokenizer tables of models other than SD's). Take every file that is
    # there; each missing tokenizer table gets an empty placeholder, which
    # only disables those other models' tokenizers (SD 1.x uses CLIP's).
    git --git-dir="$sdcpp_git" ls-tree -r "$SDCPP_COMMIT" | while read -r _ type hash path; do
        [ "$type" = blob ] || continue
        if git --git-dir="$sdcpp_git" cat-file -e "$hash" 2>/dev/null; then echo "$path"; else echo "$path" >&3; fi
    done >"$src/.present" 3>"$src/.missing"
    tr '\n' '\0' <"$src/.present" | xargs -0 git --git-dir="$sdcpp_git" archive "$SDCPP_COMMIT" -- | tar -x -i -C "$src"
    vocab=$src/src/tokenizers/vocab
    if grep -q '^src/tokenizers/vocab/' "$src/.missing"; then
        first=1
        for f in $(grep '^src/tokenizers/vocab/' "$src/.missing"); do
            : >"$src/$f"
            if [ $first = 1 ]; then
                for sym in $(grep -o 'sizeof([a-z0-9_]*)' "$vocab/vocab.cpp" | sed 's/sizeof(\(.*\))/\1/'); do
                    grep -q "$sym\[\]" "$vocab"/*.hpp || echo "static const unsigned char $sym[] = {0};" >>"$src/$f"
                done
                first=0
            fi
        done
    fi
    pinned=$(git --git-dir="$sdcpp_git" ls-tree "$SDCPP_COMMIT" ggml | awk '{print $3}')
    if [ "$pinned" != "$GGML_COMMIT" ]; then
        echo "$0: stable-diffusion.cpp $SDCPP_COMMIT pins ggml $pinned, not $GGML_COMMIT" >&2
        exit 1
    fi
    mkdir -p "$src/ggml"
    git --git-dir="$ggml_git" archive "$GGML_COMMIT" | tar -x -C "$src/ggml"
    # CPU build; GGML_NATIVE picks this machine's ISA (as a user building it would).
    cmake -S "$src" -B "$src/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON \
        -DSD_WEBP=OFF -DSD_WEBM=OFF -DSD_SERVER_BUILD_FRONTEND=OFF >"$src/cmake.log"
    cmake --build "$src/build" --target sd-cli -j"$(nproc)" >"$src/build.log"
fi
echo "$src/build/bin/sd-cli"
