/* Textual-inversion embeddings as A1111 1.10.1 holds them
 * (modules/textual_inversion/textual_inversion.py EmbeddingDatabase):
 * every .pt / .bin / .safetensors file of the embeddings folder (and its
 * subfolders) is one embedding named by its file stem; its vectors are
 * float32 [vectors, shape]. An embedding whose width (shape) is not the
 * text encoder's is "skipped": listed, never used, its name stays text.
 *
 * The folder's database is process-wide (like A1111's), rescanned when the
 * folder's mtime changes, the folder or the text encoder width is another,
 * or on request; jobs hold a reference to the snapshot they use, so a
 * rescan from another thread never frees vectors under a running job. */
#ifndef MEND_MODEL_EMBEDDINGS_H
#define MEND_MODEL_EMBEDDINGS_H

#include <stdint.h>
#include <time.h>

#include "core/err.h"
#include "model/tokenizer.h"

#define MEND_TI_MAX_VECTORS 75 /* one 75-token chunk */

typedef struct mend_ti_embedding {
    char *name;  /* file stem */
    char *path;
    int vectors; /* rows of vec */
    int shape;   /* width of a vector (clip_g + clip_l widths for an SDXL file) */
    float *vec;  /* [vectors, shape]; NULL for an SDXL pair (never used by SD 1.x) */
    int has_step;
    int64_t step;
    char *sd_checkpoint, *sd_checkpoint_name; /* NULL: None */
    char hash[65];      /* sha256 of the file */
    char shorthash[13]; /* its first 12 hex digits (infotext `TI hashes`) */
} mend_ti_embedding;

/* Reads one embedding file (kind from its extension: .pt and .bin are
 * torch.save archives, .safetensors); name is the file stem. The layouts:
 * {"string_to_param": {"*": [vectors, width]}, "step", "sd_checkpoint",
 * "sd_checkpoint_name"} (A1111), {"<token>": [width] or [vectors, width]}
 * (diffusers), {"emb_params": [vectors, width]} (safetensors), {"clip_g",
 * "clip_l"} (SDXL). Any other content is MEND_E_FORMAT naming the file. */
mend_status mend_ti_read_file(const char *path, const char *name, mend_ti_embedding *out, mend_err *err);
void mend_ti_embedding_free(mend_ti_embedding *e);
/* 1 for a file name A1111 would read as an embedding (.pt, .bin, .safetensors, any case). */
int mend_ti_is_embedding_file(const char *filename);
/* 1 for a PNG that may hold one (not a NAME.preview.png). */
int mend_ti_is_embedding_image(const char *filename);
/* A PNG's "sd-ti-embedding" text (embeddings_image.c): *found 0 and
 * MEND_OK for a PNG without one (a preview); named by its "name", else stem. */
mend_status mend_ti_read_image(const char *path, const char *stem, mend_ti_embedding *out, int *found, mend_err *err);

typedef struct mend_ti_db {
    mend_ti_embedding *loaded; /* sorted by lower-case name, as A1111 re-sorts word_embeddings */
    int nloaded;
    mend_ti_embedding *skipped; /* in folder order */
    int nskipped;
    int expected_shape; /* the text encoder width it was loaded for; -1: any */
    char *log;          /* "Error loading embedding FILE: why" lines, or NULL */
    /* what it was loaded from (the rescan test) */
    char *dir;
    int dir_present;
    struct timespec mtime;
    int refs; /* holders, the process-wide slot included */
} mend_ti_db;

/* Appends text to *log (malloc'd, NULL at first); 0 when out of memory. */
int mend_ti_log_append(char **log, const char *text);

/* Scans dir into a new database (refs 0): embeddings_scan.c. */
mend_status mend_ti_db_scan(const char *dir, int expected_shape, mend_ti_db **out, mend_err *err);
void mend_ti_db_free(mend_ti_db *db);

/* The process-wide database for a text encoder of width `width` (<= 0: the
 * model loaded last, else the last scan's width) with a reference for the
 * caller; rescanned first when needed (see above) or when `force`. *log
 * (may be NULL) gets a copy of the rescan's error lines when this call
 * rescanned, else NULL. */
mend_status mend_ti_db_acquire(int width, int force, mend_ti_db **out, char **log, mend_err *err);
void mend_ti_db_release(mend_ti_db *db);
/* The width a listing without a job uses: the text encoder of the model
 * loaded last (A1111 loads its embeddings with the model). */
void mend_ti_set_default_width(int width);

/* A job's look-up: every loaded embedding's name as token ids (the model's
 * tokenizer, no BOS/EOS), ordered by first id, then longest first (A1111's
 * ids_lookup). */
typedef struct mend_ti_name {
    int32_t *ids;
    int n;
    const mend_ti_embedding *e;
} mend_ti_name;

typedef struct mend_ti_lookup {
    mend_ti_name *names;
    int count;
} mend_ti_lookup;

mend_status mend_ti_lookup_build(const mend_ti_db *db, const mend_tokenizer *tok, mend_ti_lookup *out, mend_err *err);
void mend_ti_lookup_free(mend_ti_lookup *l);
/* find_embedding_at_position: the embedding whose name's ids start at
 * ids[pos] (the longest such), *len = its id count; NULL when none. */
const mend_ti_embedding *mend_ti_lookup_find(const mend_ti_lookup *l, const int32_t *ids, int n, int pos, int *len);

#endif
