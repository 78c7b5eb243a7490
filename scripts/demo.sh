#!/usr/bin/env bash
# The main job on a fresh machine: install dependencies, build mend, write a
# tiny random-weight SD 1.5 inpainting checkpoint, show what mend detects in
# it, and inpaint a photo with it. With a real checkpoint, pass it as $MODEL.
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${MEND_SHARED_DIR:-../shared}
./scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j2
mkdir -p out
model=${MODEL:-out/tiny-sd1-inpaint.safetensors}
if [ ! -e "$model" ]; then
  ./build/mend tools make-model --arch sd1-inpaint --size tiny --dtype f16 "$model"
fi
./build/mend info "$model"
vocab="$shared/testdata/clip/bpe_simple_vocab_16e6.txt.gz"
if [ ! -f "$vocab" ] || [ ! -f "$shared/testdata/images/chelsea-128.png" ]; then
  echo "demo: $shared/testdata not found: the CLIP vocabulary and test photos live there; skipping the inpaint run"
  exit 0
fi
./build/mend inpaint --model "$model" --vocab "$vocab" \
  --init "$shared/testdata/images/chelsea-128.png" --mask "$shared/testdata/images/mask-ellipse-128.png" \
  --prompt "a red knitted hat" --negative-prompt "blurry" --width 128 --height 128 --steps 8 \
  --sampler "DPM++ 2M" --scheduler Karras --cfg-scale 7 --denoising-strength 0.75 --mask-blur 4 \
  --inpainting-fill original --seed 1 -o out/demo-inpaint.png
./build/mend png-info out/demo-inpaint.png
