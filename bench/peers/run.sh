#!/usr/bin/env bash
# mend against its peers on one machine, in one run: one UNet step with CFG
# (batch 2) against torch CPU (fp32 and bf16 autocast, the original LDM UNet)
# and oneDNN's own 3x3 convolution, and a whole 512x512 inpaint job against
# stable-diffusion.cpp (CPU build, same checkpoint, sampler, steps, strength).
#
#   bench/peers/run.sh MODEL [STEPS]
#
# MODEL: the full-size random SD 1.5 inpainting checkpoint
#   (mend-dev make-model --arch sd1-inpaint --size full --dtype f16 MODEL).
# Environment: BUILD (mend's build dir, default build), SDCPP_GIT, GGML_GIT
# (git dirs for bench/peers/build-sdcpp.sh), LDM_GIT (a git dir of
# CompVis/stable-diffusion, for the torch UNet), VOCAB (CLIP vocabulary,
# default ../shared/testdata/clip/bpe_simple_vocab_16e6.txt.gz),
# THREADS (default: all), REPS (default 2). Missing peers are skipped with a
# message; the table says which ran. Needs python3-torch, python3-numpy,
# python3-pil for the torch row and the inputs.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
model=${1:?usage: bench/peers/run.sh MODEL [STEPS]}
steps=${2:-20}
build=${BUILD:-$here/build}
threads=${THREADS:-$(nproc)}
reps=${REPS:-2}
vocab=${VOCAB:-$here/../shared/testdata/clip/bpe_simple_vocab_16e6.txt.gz}
work=$(mktemp -d /tmp/mend-peers.XXXXXX)
trap 'rm -rf "$work"' EXIT
declare -A ms

echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $threads threads; flags: $(grep -o -w 'avx2\|avx512f\|avx512_bf16\|amx_bf16' /proc/cpuinfo | sort -u | tr '\n' ' ')"

# Inputs: a 512x512 photo and an ellipse mask (from the test photos).
/usr/bin/python3 - "$here/../shared/testdata/images" "$work" <<'PY'
import sys
from PIL import Image, ImageDraw
src, out = sys.argv[1:]
Image.open(src + '/chelsea-128.png').convert('RGB').resize((512, 512), Image.LANCZOS).save(out + '/init.png')
m = Image.new('L', (512, 512), 0)
ImageDraw.Draw(m).ellipse((160, 128, 352, 320), fill=255)
m.save(out + '/mask.png')
PY

# oneDNN's ceiling and mend's UNet step in both precisions.
"$build/tools/mend-bench-conv" --threads "$threads" --reps "$reps" --steps 0 "$model" | tee "$work/conv.txt"
ms[mend_fp32]=$(sed -n 's/^UNet step.* fp32 *\([0-9.]*\) ms.*/\1/p' "$work/conv.txt")
ms[mend_bf16]=$(sed -n 's/^UNet step.* bf16 *\([0-9.]*\) ms.*/\1/p' "$work/conv.txt")

if [ -n "${LDM_GIT:-}" ] && /usr/bin/python3 -c 'import torch' 2>/dev/null; then
    # Debian's torch takes its BLAS (linears, attention) from the libblas.so.3
    # alternative: the reference BLAS is many times slower than OpenBLAS
    # (apt install libopenblas0-pthread), so the table names the one used.
    echo "torch BLAS: $(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3)"
    /usr/bin/python3 "$here/bench/peers/torch_unet.py" "$model" --ldm-git "$LDM_GIT" --threads "$threads" \
        --reps "$reps" | tee "$work/torch.txt"
    ms[torch_fp32]=$(sed -n 's/^torch fp32 unet_step_ms=\([0-9.]*\).*/\1/p' "$work/torch.txt")
    ms[torch_bf16]=$(sed -n 's/^torch bf16 unet_step_ms=\([0-9.]*\).*/\1/p' "$work/torch.txt")
else
    echo "torch: skipped (set LDM_GIT to a git dir of CompVis/stable-diffusion; needs python3-torch)"
fi

job() { # precision -> seconds of a whole mend inpaint job
    local t0 t1
    t0=$(date +%s.%N)
    "$build/mend" inpaint --model "$model" --vocab "$vocab" --init "$work/init.png" --mask "$work/mask.png" \
        --sampler "Euler a" --steps "$steps" --denoising-strength 0.75 --seed 1 --threads "$threads" \
        --precision "$1" -o "$work/mend-$1.png" "a red knitted hat, photo" >"$work/mend-$1.log" 2>&1 ||
        { tail -5 "$work/mend-$1.log" >&2; echo "mend inpaint ($1) failed" >&2; return 1; }
    t1=$(date +%s.%N)
    echo "$t1 - $t0" | bc
}
ms[job_mend_fp32]=$(job fp32) || exit 1
if grep -q 'avx512_bf16\|amx_bf16' /proc/cpuinfo; then ms[job_mend_bf16]=$(job bf16) || exit 1; fi

if [ -n "${SDCPP_GIT:-}" ] && [ -n "${GGML_GIT:-}" ]; then
    sd=$("$here/bench/peers/build-sdcpp.sh" "$SDCPP_GIT" "$GGML_GIT")
    "$sd" -m "$model" -p "a red knitted hat, photo" --init-img "$work/init.png" --mask "$work/mask.png" \
        -W 512 -H 512 --steps "$steps" --strength 0.75 --sampling-method euler_a --seed 1 -t "$threads" \
        -o "$work/sdcpp.png" >"$work/sdcpp.log" 2>&1 || { tail -5 "$work/sdcpp.log"; exit 1; }
    ms[job_sdcpp]=$(sed -n 's/.*generate_image completed in \([0-9.]*\)s.*/\1/p' "$work/sdcpp.log")
    sampling=$(sed -n 's/.*sampling completed, taking \([0-9.]*\)s.*/\1/p' "$work/sdcpp.log" | head -1)
    echo "stable-diffusion.cpp: sampling $sampling s for $steps x 0.75 steps, whole job ${ms[job_sdcpp]} s"
else
    echo "stable-diffusion.cpp: skipped (set SDCPP_GIT and GGML_GIT)"
fi

ratio() { [ -n "${ms[$1]:-}" ] && [ -n "${ms[$2]:-}" ] && echo "scale=2; ${ms[$1]} / ${ms[$2]}" | bc || echo "-"; }
echo
echo "| comparison | peer | mend | peer / mend |"
echo "|---|---|---|---|"
echo "| UNet step, fp32: torch fp32 vs mend fp32 (ms) | ${ms[torch_fp32]:--} | ${ms[mend_fp32]:--} | $(ratio torch_fp32 mend_fp32) |"
echo "| UNet step, bf16: torch bf16 autocast vs mend bf16 (ms) | ${ms[torch_bf16]:--} | ${ms[mend_bf16]:--} | $(ratio torch_bf16 mend_bf16) |"
echo "| 512² inpaint, $steps steps x 0.75: sd.cpp vs mend fp32 (s) | ${ms[job_sdcpp]:--} | ${ms[job_mend_fp32]:--} | $(ratio job_sdcpp job_mend_fp32) |"
echo "| 512² inpaint, $steps steps x 0.75: sd.cpp vs mend bf16 (s) | ${ms[job_sdcpp]:--} | ${ms[job_mend_bf16]:--} | $(ratio job_sdcpp job_mend_bf16) |"
