#!/usr/bin/env bash
# Runs every libFuzzer target of a MEND_FUZZ build for a bounded time each.
#   tests/fuzz/run.sh BUILD_DIR [SECONDS_PER_TARGET] [SHARED_DIR]
# Long runs: MEND_FUZZ_RUNS=N ends each target after N executions or
# SECONDS, whichever comes first; MEND_FUZZ_ONLY=fuzz_x runs that target alone.
# Seeds: a few valid inputs made here, tests/fuzz/seeds (a PNG, JPEG and
# WebP with infotext, API request bodies) plus, when present, files of
# ../shared/testdata (read in place: libFuzzer only writes to the first,
# temporary corpus folder). Exits non-zero on the first finding.
set -euo pipefail
build=${1:?usage: run.sh BUILD_DIR [SECONDS] [SHARED_DIR]}
secs=${2:-20}
shared=${3:-$(cd "$(dirname "$0")/../.." && pwd)/../shared}
work=$(mktemp -d /tmp/mend-fuzz-XXXXXX)
trap 'rm -rf "$work"' EXIT
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
own=$(cd "$(dirname "$0")" && pwd)/seeds
seeds_for() {
  case $1 in
    fuzz_tensorfile) echo "$own/tensorfile $shared/testdata/taesd $shared/testdata/lora/files $shared/testdata/embeddings/files" ;;
    fuzz_image|fuzz_png_info) echo "$own/images $shared/testdata/images" ;;
    fuzz_api_json) echo "$own/api" ;;
    fuzz_prompt) echo "" ;;
  esac
}
status=0
mkdir -p "$build/fuzz-artifacts"
for bin in "$build"/tests/fuzz/fuzz_*; do
  [ -x "$bin" ] || continue
  name=$(basename "$bin")
  [ -z "${MEND_FUZZ_ONLY:-}" ] || [ "$name" = "$MEND_FUZZ_ONLY" ] || continue
  mkdir -p "$work/$name"
  [ "$name" != fuzz_prompt ] || printf '\x14a (cat:1.2) [dog:fox:0.5] AND b BREAK c [[x]]' > "$work/$name/seed-prompt"
  dirs=("$work/$name")
  for d in $(seeds_for "$name"); do [ -d "$d" ] && dirs+=("$d"); done
  limit=(-max_total_time="$secs")
  [ -z "${MEND_FUZZ_RUNS:-}" ] || limit+=(-runs="$MEND_FUZZ_RUNS")
  echo "== $name: ${limit[*]}"
  start=$SECONDS
  if ! "$bin" "${limit[@]}" -max_len=65536 -rss_limit_mb=2048 -timeout=10 \
       -artifact_prefix="$build/fuzz-artifacts/" "${dirs[@]}" > "$work/$name.log" 2>&1; then
    tail -40 "$work/$name.log"
    echo "FINDING in $name: see $build/fuzz-artifacts/"
    status=1
  fi
  grep -E "^#[0-9]+.*DONE|Done [0-9]+ runs" "$work/$name.log" | tail -1 || true
  echo "   $((SECONDS - start)) s"
done
exit $status
