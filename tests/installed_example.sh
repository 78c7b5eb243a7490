#!/bin/sh
# examples/inpaint.c as a user builds it: `cmake --install` into a temporary
# prefix, compile with nothing but `pkg-config --cflags --libs mend`, run it
# on a tiny model made by mend-dev, and check the installed files (headers,
# libmend.a, the versioned libmend.so exporting only mend_* symbols, mend.pc).
# usage: installed_example.sh BUILD_DIR SOURCE_DIR MEND_DEV SHARED_DIR [SANITIZE]
set -eu
build=$1 src=$2 dev=$3 shared=$4 sanitize=${5:-OFF}
vocab=$shared/testdata/clip/bpe_simple_vocab_16e6.txt.gz
image=$shared/testdata/images/chelsea-128.png
mask=$shared/testdata/images/mask-ellipse-128.png
for f in "$vocab" "$image" "$mask"; do
  [ -f "$f" ] || { echo "skipped: $f not found (reference data in ../shared)"; exit 77; }
done
command -v pkg-config >/dev/null || { echo "skipped: pkg-config not installed"; exit 77; }
cc=${CC:-cc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

cmake --install "$build" --prefix "$tmp/prefix" >/dev/null || fail "cmake --install"
pc=$(find "$tmp/prefix" -name mend.pc | head -n 1)
[ -n "$pc" ] || fail "no mend.pc installed"
libdir=$(dirname "$(dirname "$pc")")
for f in "$tmp/prefix/include/mend/mend.h" "$tmp/prefix/include/mend/model.h" "$libdir/libmend.a" \
         "$tmp/prefix/bin/mend"; do
  [ -f "$f" ] || fail "$f not installed"
done
so=$(find "$libdir" -name 'libmend.so.*.*.*' | head -n 1)
[ -n "$so" ] || fail "no versioned libmend.so in $libdir"
others=$(nm -D --defined-only "$so" | awk '$2 ~ /^[TDBR]$/ && $3 !~ /^mend_/ {print $3}')
[ -z "$others" ] || fail "libmend.so exports symbols outside mend_*: $(echo $others | head -c 300)"

export PKG_CONFIG_PATH="$libdir/pkgconfig"
version=$(pkg-config --modversion mend) || fail "pkg-config does not find mend"
grep -q "#define MEND_VERSION \"$version\"" "$tmp/prefix/include/mend/mend.h" || fail "mend.pc version $version"
extra=""
[ "$sanitize" = ON ] && extra="-fsanitize=address,undefined"
# shellcheck disable=SC2046
$cc -std=c11 -Wall -Wextra -Werror $extra "$src/examples/inpaint.c" $(pkg-config --cflags --libs mend) \
  -o "$tmp/inpaint" || fail "the example does not build against the installed library"
LD_LIBRARY_PATH="$libdir" ldd "$tmp/inpaint" | grep -q "$libdir/libmend.so" || fail "the example is not linked to the installed libmend.so"

"$dev" make-model --arch sd1-inpaint --size tiny --dtype f16 "$tmp/tiny.safetensors" || fail "mend-dev make-model"
LD_LIBRARY_PATH="$libdir" "$tmp/inpaint" "$tmp/tiny.safetensors" "$vocab" "$image" "$mask" "$tmp/out.png" \
  >"$tmp/log" 2>&1 || { cat "$tmp/log"; fail "the example failed"; }
grep -q "Seed: 1234" "$tmp/log" || { cat "$tmp/log"; fail "no infotext printed"; }
"$tmp/prefix/bin/mend" png-info "$tmp/out.png" | grep -q "Seed: 1234" || fail "out.png has no infotext"
LD_LIBRARY_PATH="$libdir" "$tmp/inpaint" "$tmp/absent.safetensors" "$vocab" "$image" "$mask" "$tmp/x.png" \
  >"$tmp/log" 2>&1 && fail "the example succeeded on a missing model"
grep -q "absent.safetensors" "$tmp/log" || fail "the error does not name the missing model"
echo "installed example: built with pkg-config (mend $version) and inpainted $image"
