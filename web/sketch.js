/* mend web page: Inpaint sketch's inputs computed in the browser the way
 * A1111 does it with Pillow (inpaint-semantics.md §2.2). */
'use strict';

/* --------------------------------------------- Pillow's GaussianBlur in JS
 * Inpaint sketch (inpaint-semantics.md §2.2) composites the sketch with
 * PIL's GaussianBlur, which is 3 passes of an "extended" box blur (§3.3b):
 * box radius l + a with fractional edge weights, 8-bit rounding after every
 * pass, 3 horizontal passes then 3 vertical, edge pixels extended. This is
 * a re-implementation of that algorithm (Pillow's BoxBlur.c arithmetic with
 * 24-bit fixed-point weights), not a generic Gaussian. */

function pilBoxRadius(radius, passes) {
  const f = Math.fround;
  const sigma2 = f(f(radius * radius) / passes);
  const L = f(Math.sqrt(12.0 * sigma2 + 1.0));
  const l = Math.floor((L - 1.0) / 2.0);
  let a = f((2 * l + 1) * (l * (l + 1) - 3 * sigma2));
  a = f(a / (6 * (sigma2 - (l + 1) * (l + 1))));
  return f(l + a);
}

/* One pass along rows of a planar uint8 image (w x h, `stride` between rows,
 * `step` between pixels, so columns are rows of the transposed view). */
function boxBlurLines(buf, count, len, lineStride, step, floatRadius) {
  const r = Math.floor(floatRadius);
  const ww = Math.floor(Math.fround(16777216 / Math.fround(floatRadius * 2 + 1)));
  const fw = Math.floor((16777216 - (r * 2 + 1) * ww) / 2);
  const line = new Uint8Array(len);
  const last = len - 1;
  for (let i = 0; i < count; i++) {
    const base = i * lineStride;
    for (let x = 0; x < len; x++) line[x] = buf[base + x * step];
    let acc = 0; /* sum of line[clamp(x+k)] for k in -r..r */
    for (let k = -r; k <= r; k++) acc += line[Math.min(Math.max(k, 0), last)];
    for (let x = 0; x < len; x++) {
      const far = line[Math.max(x - r - 1, 0)] + line[Math.min(x + r + 1, last)];
      const bulk = acc * ww + far * fw;
      buf[base + x * step] = Math.floor((bulk + 8388608) / 16777216);
      acc += line[Math.min(x + r + 1, last)] - line[Math.max(x - r, 0)];
    }
  }
}

/* Blurs planar channels in place: planes is an array of Uint8Array(w*h). */
function pilGaussianBlur(planes, w, h, radius) {
  if (!(radius > 0)) return;
  const fr = pilBoxRadius(radius, 3);
  for (const p of planes) {
    for (let pass = 0; pass < 3; pass++) boxBlurLines(p, h, w, w, 1, fr);
    for (let pass = 0; pass < 3; pass++) boxBlurLines(p, w, h, 1, w, fr);
  }
}

/* Inpaint sketch -> (init image, mask), exactly as inpaint-semantics.md §2.2:
 * mask = 255 where any RGB channel differs, scaled by (1 - transparency/100)
 * with Pillow's float32 blend and truncation; init = composite(blur(sketch),
 * orig, blur(mask)) with Pillow's paste rounding; the mask handed on is the
 * unblurred one. orig/sketch are RGBA ImageData of the same size. */
function sketchToInputs(orig, sketch, transparency, blurRadius) {
  const w = orig.width, h = orig.height, n = w * h;
  const factor = Math.fround(1 - transparency / 100);
  const maskValue = Math.trunc(Math.fround(factor * 255));
  const mask = new Uint8Array(n);
  let painted = 0;
  for (let i = 0; i < n; i++) {
    const o = i * 4;
    if (orig.data[o] !== sketch.data[o] || orig.data[o + 1] !== sketch.data[o + 1] ||
        orig.data[o + 2] !== sketch.data[o + 2]) {
      mask[i] = maskValue;
      painted++;
    }
  }
  const blurredMask = Uint8Array.from(mask);
  const planes = [0, 1, 2].map((c) => {
    const p = new Uint8Array(n);
    for (let i = 0; i < n; i++) p[i] = sketch.data[i * 4 + c];
    return p;
  });
  pilGaussianBlur([blurredMask, ...planes], w, h, blurRadius);
  const init = new ImageData(w, h);
  for (let i = 0; i < n; i++) {
    const m = blurredMask[i];
    for (let c = 0; c < 3; c++) {
      const t = orig.data[i * 4 + c] * (255 - m) + planes[c][i] * m + 128; /* Pillow's DIV255 */
      init.data[i * 4 + c] = ((t >> 8) + t) >> 8;
    }
    init.data[i * 4 + 3] = 255;
  }
  const maskImage = new ImageData(w, h);
  for (let i = 0; i < n; i++) {
    maskImage.data[i * 4] = maskImage.data[i * 4 + 1] = maskImage.data[i * 4 + 2] = mask[i];
    maskImage.data[i * 4 + 3] = 255;
  }
  return { init, mask: maskImage, painted };
}

function imageDataToDataURL(data) {
  const c = newCanvas(data.width, data.height);
  c.getContext('2d').putImageData(data, 0, 0);
  return c.toDataURL('image/png');
}
