/* PNG decode/encode with libpng. libpng reports errors by longjmp: every
 * setjmp lives in a small helper whose mutable state sits in a struct owned
 * by the caller, so nothing the error path frees is an indeterminate local,
 * and the caller releases everything whatever happened. */
#include "io/image_codec.h"

#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

typedef struct png_job {
    const char *name;
    char msg[256];
    /* decode: input cursor */
    const uint8_t *in;
    size_t in_len, in_pos;
    /* decode: libpng's output rows (freed by the caller) */
    uint8_t *raw;
    png_bytep *rows;
    /* encode: growing output buffer */
    uint8_t *out;
    size_t out_len, out_cap;
    int out_nomem;
    /* encode: converted tEXt/iTXt payloads */
    png_text *texts;
    char **text_bufs;
    int ntexts;
} png_job;

static void on_png_error(png_structp png, png_const_charp msg)
{
    png_job *job = png_get_error_ptr(png);
    snprintf(job->msg, sizeof job->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void on_png_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg; /* ancillary problems (bad CRC in a text chunk, ...) are not fatal, as in PIL */
}

static void read_from_memory(png_structp png, png_bytep dst, size_t n)
{
    png_job *job = png_get_io_ptr(png);
    if (n > job->in_len - job->in_pos)
        png_error(png, "unexpected end of data (truncated file)");
    memcpy(dst, job->in + job->in_pos, n);
    job->in_pos += n;
}

/* Output channels mend keeps for each PNG colour type (see image.h). */
static int kept_channels(int color_type)
{
    switch (color_type) {
    case PNG_COLOR_TYPE_GRAY:
    case PNG_COLOR_TYPE_GRAY_ALPHA:
        return 1;
    case PNG_COLOR_TYPE_RGB_ALPHA:
        return 4;
    default:
        return 3; /* RGB, palette */
    }
}

/* Copies libpng's rows (ch_in channels of 8 or 16 bits) into out, keeping
 * the first out->channels channels. 16-bit samples keep their high byte,
 * except plain grey, which PIL reads as mode "I" and clips to 0..255. */
static void convert_rows(png_job *job, int ch_in, int bit_depth, int color_type, mend_image *out)
{
    int clip16 = color_type == PNG_COLOR_TYPE_GRAY;
    for (int y = 0; y < out->height; y++) {
        const uint8_t *src = job->rows[y];
        uint8_t *dst = out->data + (size_t)y * out->width * out->channels;
        for (int x = 0; x < out->width; x++) {
            for (int c = 0; c < out->channels; c++) {
                size_t i = (size_t)x * ch_in + c;
                uint8_t v;
                if (bit_depth == 16) {
                    unsigned v16 = ((unsigned)src[2 * i] << 8) | src[2 * i + 1];
                    v = clip16 ? (uint8_t)(v16 > 255 ? 255 : v16) : (uint8_t)(v16 >> 8);
                } else {
                    v = src[i];
                }
                dst[(size_t)x * out->channels + c] = v;
            }
        }
    }
}

static int png_decode_guarded(png_job *job, png_structp png, png_infop info, mend_image *out, mend_err *err,
                              mend_status *status)
{
    if (setjmp(png_jmpbuf(png)))
        return -1;
    png_set_read_fn(png, job, read_from_memory);
    png_set_user_limits(png, 0x7fffffff, 0x7fffffff); /* mend checks the size itself, below */
    /* A chunk may declare 2 GB in a 400-byte file: libpng would allocate
     * that before reading it. Pixels never need the text chunks (png_text.c
     * reads those), so they are skipped, and any other ancillary chunk is
     * bounded in size and count. */
    static const png_byte text_chunks[] = "tEXt\0zTXt\0iTXt\0";
    png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, text_chunks, 3);
    png_set_chunk_malloc_max(png, (png_alloc_size_t)8 << 20);
    png_set_chunk_cache_max(png, 256);
    png_read_info(png, info);
    png_uint_32 w, h;
    int bit_depth, color_type, interlace;
    png_get_IHDR(png, info, &w, &h, &bit_depth, &color_type, &interlace, NULL, NULL);
    if (w == 0 || h == 0 || w > MEND_IMAGE_MAX_SIDE || h > MEND_IMAGE_MAX_SIDE) {
        *status = mend_fail(err, MEND_E_FORMAT, "%s: PNG declares %ux%u pixels (allowed 1..%d per side)", job->name,
                            (unsigned)w, (unsigned)h, MEND_IMAGE_MAX_SIDE);
        return 0;
    }
    /* Everything to 8 (or 16) bits per sample; tRNS becomes an alpha
     * channel that convert_rows then drops for colour types without alpha. */
    png_set_expand(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    int ch_in = png_get_channels(png, info);
    int depth_out = png_get_bit_depth(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    if (rowbytes < (size_t)w * (size_t)ch_in * (size_t)(depth_out / 8))
        png_error(png, "unexpected row layout");
    job->raw = malloc(rowbytes * h);
    job->rows = malloc(sizeof *job->rows * h);
    if (!job->raw || !job->rows) {
        *status = mend_fail(err, MEND_E_NOMEM, "%s: out of memory decoding a %ux%u PNG", job->name, (unsigned)w,
                            (unsigned)h);
        return 0;
    }
    for (png_uint_32 y = 0; y < h; y++)
        job->rows[y] = job->raw + rowbytes * y;
    png_read_image(png, job->rows);
    *status = mend_image_alloc(out, (int)w, (int)h, kept_channels(color_type), err);
    if (*status != MEND_OK)
        return 0;
    convert_rows(job, ch_in, depth_out, color_type, out);
    return 0;
}

mend_status mend_png_decode(const uint8_t *buf, size_t len, const char *name, mend_image *out, mend_err *err)
{
    png_job job;
    memset(&job, 0, sizeof job);
    job.name = name;
    job.in = buf;
    job.in_len = len;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &job, on_png_error, on_png_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_read_struct(png ? &png : NULL, NULL, NULL);
        return mend_fail(err, MEND_E_NOMEM, "%s: cannot initialise the PNG decoder", name);
    }
    mend_status status = MEND_OK;
    if (png_decode_guarded(&job, png, info, out, err, &status) != 0) {
        mend_image_free(out);
        status = mend_fail(err, MEND_E_FORMAT, "%s: invalid PNG: %s", name, job.msg);
    } else if (status != MEND_OK) {
        mend_image_free(out);
    }
    png_destroy_read_struct(&png, &info, NULL);
    free(job.rows);
    free(job.raw);
    return status;
}

/* ---- encoding ---- */

static void write_to_memory(png_structp png, png_bytep src, size_t n)
{
    png_job *job = png_get_io_ptr(png);
    if (n > job->out_cap - job->out_len) {
        size_t cap = job->out_cap ? job->out_cap : 4096;
        while (cap - job->out_len < n)
            cap *= 2;
        uint8_t *grown = realloc(job->out, cap);
        if (!grown) {
            job->out_nomem = 1;
            png_error(png, "out of memory");
        }
        job->out = grown;
        job->out_cap = cap;
    }
    memcpy(job->out + job->out_len, src, n);
    job->out_len += n;
}

static void flush_nothing(png_structp png)
{
    (void)png;
}

/* Decodes one UTF-8 sequence at s; returns its length (0 if invalid). */
static int utf8_next(const unsigned char *s, unsigned *cp)
{
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    int n = (s[0] & 0xe0) == 0xc0 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3 : (s[0] & 0xf8) == 0xf0 ? 4 : 0;
    if (!n)
        return 0;
    unsigned v = s[0] & (0x7f >> n);
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3f);
    }
    static const unsigned min_for_len[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < min_for_len[n] || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return n;
}

/* Like PIL's PngInfo.add_text: Latin-1 text goes in a tEXt chunk, anything
 * else in an uncompressed iTXt chunk (UTF-8). Fills one png_text. */
static mend_status prepare_text(png_job *job, int i, const mend_png_text *t, mend_err *err)
{
    size_t klen = t->key ? strlen(t->key) : 0;
    if (klen < 1 || klen > 79)
        return mend_fail(err, MEND_E_ARG, "PNG text key '%s' must have 1..79 characters", t->key ? t->key : "");
    const unsigned char *s = (const unsigned char *)(t->text ? t->text : "");
    size_t len = strlen((const char *)s);
    char *latin1 = malloc(len + 1);
    if (!latin1)
        return mend_fail(err, MEND_E_NOMEM, "out of memory for PNG text '%s'", t->key);
    job->text_bufs[i] = latin1;
    size_t o = 0;
    int is_latin1 = 1;
    for (size_t p = 0; p < len;) {
        unsigned cp;
        int n = utf8_next(s + p, &cp);
        if (!n)
            return mend_fail(err, MEND_E_ARG, "PNG text '%s' is not valid UTF-8 (byte %zu)", t->key, p);
        if (cp > 0xff)
            is_latin1 = 0;
        latin1[o++] = (char)cp;
        p += (size_t)n;
    }
    latin1[o] = '\0';
    png_text *pt = &job->texts[i];
    pt->key = (png_charp)t->key;
    if (is_latin1) {
        pt->compression = PNG_TEXT_COMPRESSION_NONE;
        pt->text = latin1;
        pt->text_length = o;
    } else {
        pt->compression = PNG_ITXT_COMPRESSION_NONE;
        pt->text = (png_charp)s;
        pt->itxt_length = len;
        pt->lang = (png_charp) "";
        pt->lang_key = (png_charp) "";
    }
    return MEND_OK;
}

static int png_encode_guarded(png_job *job, png_structp png, png_infop info, const mend_image *img)
{
    if (setjmp(png_jmpbuf(png)))
        return -1;
    static const int color_types[5] = {0, PNG_COLOR_TYPE_GRAY, 0, PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGB_ALPHA};
    png_set_write_fn(png, job, write_to_memory, flush_nothing);
    png_set_IHDR(png, info, (png_uint_32)img->width, (png_uint_32)img->height, 8, color_types[img->channels],
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (job->ntexts)
        png_set_text(png, info, job->texts, job->ntexts);
    png_write_info(png, info);
    size_t stride = (size_t)img->width * (size_t)img->channels;
    for (int y = 0; y < img->height; y++)
        png_write_row(png, img->data + stride * (size_t)y);
    png_write_end(png, info);
    return 0;
}

static void free_texts(png_job *job)
{
    for (int i = 0; i < job->ntexts; i++)
        free(job->text_bufs ? job->text_bufs[i] : NULL);
    free(job->text_bufs);
    free(job->texts);
}

mend_status mend_image_encode_png(const mend_image *img, const mend_png_text *texts, int ntexts, uint8_t **out,
                                  size_t *out_len, mend_err *err)
{
    *out = NULL;
    *out_len = 0;
    if (!img || !img->data || img->width <= 0 || img->height <= 0 ||
        (img->channels != 1 && img->channels != 3 && img->channels != 4))
        return mend_fail(err, MEND_E_ARG, "cannot encode PNG: empty image or unsupported channel count");
    if (ntexts < 0 || (ntexts > 0 && !texts))
        return mend_fail(err, MEND_E_ARG, "cannot encode PNG: bad text chunk list");
    png_job job;
    memset(&job, 0, sizeof job);
    job.name = "PNG";
    if (ntexts > 0) {
        job.texts = calloc((size_t)ntexts, sizeof *job.texts);
        job.text_bufs = calloc((size_t)ntexts, sizeof *job.text_bufs);
        job.ntexts = ntexts;
        if (!job.texts || !job.text_bufs) {
            free_texts(&job);
            return mend_fail(err, MEND_E_NOMEM, "out of memory for PNG text chunks");
        }
        for (int i = 0; i < ntexts; i++) {
            mend_status s = prepare_text(&job, i, &texts[i], err);
            if (s != MEND_OK) {
                free_texts(&job);
                return s;
            }
        }
    }
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &job, on_png_error, on_png_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    mend_status status = MEND_OK;
    if (!png || !info) {
        status = mend_fail(err, MEND_E_NOMEM, "cannot initialise the PNG encoder");
    } else if (png_encode_guarded(&job, png, info, img) != 0) {
        status = mend_fail(err, job.out_nomem ? MEND_E_NOMEM : MEND_E_ARG, "PNG encoding failed: %s", job.msg);
    }
    png_destroy_write_struct(png ? &png : NULL, info ? &info : NULL);
    free_texts(&job);
    if (status != MEND_OK) {
        free(job.out);
        return status;
    }
    *out = job.out;
    *out_len = job.out_len;
    return MEND_OK;
}
