/* images.split_grid and images.combine_grid of A1111 1.10: tiles at
 * int(k * dx) with dx = (W - tile) / (n - 1), the last one flush with the
 * edge; combining pastes each tile's overlap through a linear ramp mask
 * (Pillow's paste with an "L" mask: (dst * (255 - m) + src * m + 128) / 255,
 * rounded as Pillow's DIV255), first along each row, then row over row. */
#include "inpaint/sd_grid.h"

#include "inpaint/imageops.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void mend_grid_free(mend_grid *g)
{
    for (int i = 0; g->tiles && i < g->rows * g->cols; i++)
        mend_image_free(&g->tiles[i].img);
    free(g->tiles);
    memset(g, 0, sizeof *g);
}

static int place(int k, double d, int tile, int size)
{
    int v = (int)(k * d);
    return v + tile >= size ? size - tile : v;
}

mend_status mend_grid_split(const mend_image *img, int tile_w, int tile_h, int overlap, mend_grid *g, mend_err *err)
{
    memset(g, 0, sizeof *g);
    int w = img->width, h = img->height;
    if (tile_w <= overlap || tile_h <= overlap || overlap < 0)
        return mend_fail(err, MEND_E_ARG, "SD upscale: overlap %d must be below the tile size %dx%d", overlap, tile_w,
                         tile_h);
    int cols = (int)ceil((double)(w - overlap) / (tile_w - overlap)), rows = (int)ceil((double)(h - overlap) / (tile_h - overlap));
    cols = cols < 1 ? 1 : cols;
    rows = rows < 1 ? 1 : rows;
    double dx = cols > 1 ? (double)(w - tile_w) / (cols - 1) : 0, dy = rows > 1 ? (double)(h - tile_h) / (rows - 1) : 0;
    *g = (mend_grid){tile_w, tile_h, w, h, overlap, rows, cols, calloc((size_t)rows * cols, sizeof *g->tiles)};
    if (!g->tiles)
        return mend_fail(err, MEND_E_NOMEM, "out of memory");
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) {
            mend_grid_tile *t = &g->tiles[r * cols + c];
            t->y = place(r, dy, tile_h, h);
            t->x = place(c, dx, tile_w, w);
            int box[4] = {t->x, t->y, t->x + tile_w, t->y + tile_h};
            mend_status s = mend_pil_crop_any(img, box, &t->img, err);
            if (s != MEND_OK) {
                mend_grid_free(g);
                return s;
            }
        }
    return MEND_OK;
}

/* Pillow's paste(src region, (x, y), mask): dst = DIV255(dst * (255 - m) + src * m + 128). */
static void blend_px(uint8_t *dst, const uint8_t *src, int m)
{
    for (int c = 0; c < 3; c++) {
        unsigned t = (unsigned)dst[c] * (unsigned)(255 - m) + (unsigned)src[c] * (unsigned)m + 128u;
        dst[c] = (uint8_t)(((t >> 8) + t) >> 8);
    }
}

/* np.arange(overlap) * 255 / overlap as float32, truncated to uint8. */
static int ramp(int i, int overlap)
{
    return (int)((float)i * 255.0f / (float)overlap);
}

/* One row of tiles into row [image_w x tile_h]. */
static void combine_row(const mend_grid *g, int r, uint8_t *row)
{
    int W = g->image_w, th = g->tile_h, ov = g->overlap;
    for (int c = 0; c < g->cols; c++) {
        const mend_grid_tile *t = &g->tiles[r * g->cols + c];
        for (int y = 0; y < th; y++)
            for (int x = 0; x < g->tile_w; x++) {
                int X = t->x + x;
                if (X < 0 || X >= W)
                    continue;
                const uint8_t *src = t->img.data + ((size_t)y * t->img.width + x) * 3;
                uint8_t *dst = row + ((size_t)y * W + X) * 3;
                if (t->x == 0 || x >= ov)
                    memcpy(dst, src, 3);
                else
                    blend_px(dst, src, ramp(x, ov));
            }
    }
}

mend_status mend_grid_combine(const mend_grid *g, mend_image *out, mend_err *err)
{
    int W = g->image_w, H = g->image_h, th = g->tile_h, ov = g->overlap;
    MEND_TRY(mend_image_alloc(out, W, H, 3, err));
    memset(out->data, 0, (size_t)W * H * 3);
    uint8_t *row = malloc((size_t)W * th * 3);
    if (!row) {
        mend_image_free(out);
        return mend_fail(err, MEND_E_NOMEM, "out of memory");
    }
    for (int r = 0; r < g->rows; r++) {
        memset(row, 0, (size_t)W * th * 3);
        combine_row(g, r, row);
        int y0 = g->tiles[r * g->cols].y;
        for (int y = 0; y < th; y++) {
            int Y = y0 + y;
            if (Y < 0 || Y >= H)
                continue;
            for (int x = 0; x < W; x++) {
                const uint8_t *src = row + ((size_t)y * W + x) * 3;
                uint8_t *dst = out->data + ((size_t)Y * W + x) * 3;
                if (y0 == 0 || y >= ov)
                    memcpy(dst, src, 3);
                else
                    blend_px(dst, src, ramp(y, ov));
            }
        }
    }
    free(row);
    return MEND_OK;
}
