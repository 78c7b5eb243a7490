/* A1111's images.split_grid / combine_grid for the SD upscale script
 * (sd_upscale.c). Internal. */
#ifndef MEND_INPAINT_SD_GRID_H
#define MEND_INPAINT_SD_GRID_H

#include "io/image.h"

typedef struct mend_grid_tile {
    int x, y;
    mend_image img; /* tile_w x tile_h, RGB */
} mend_grid_tile;

typedef struct mend_grid {
    int tile_w, tile_h, image_w, image_h, overlap;
    int rows, cols;
    mend_grid_tile *tiles; /* rows * cols, row by row */
} mend_grid;

/* The tiles of an RGB image (a tile past the image's edge is black there, as Pillow's crop). */
mend_status mend_grid_split(const mend_image *img, int tile_w, int tile_h, int overlap, mend_grid *g, mend_err *err);
/* The tiles (replaced by the caller) blended back into an image_w x image_h RGB image. */
mend_status mend_grid_combine(const mend_grid *g, mend_image *out, mend_err *err);
void mend_grid_free(mend_grid *g);

#endif
