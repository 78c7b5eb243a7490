/* Shared oneDNN plumbing of the kernels: one CPU engine and stream, a
 * thread-count guard, per-thread growable scratch, and prepared weights. */
#ifndef MEND_KERNELS_DNNL_UTIL_H
#define MEND_KERNELS_DNNL_UTIL_H

#include <dnnl.h>

#include "core/err.h"
#include "kernels/kernels.h"

typedef struct mend_dnnl {
    dnnl_engine_t eng;
    dnnl_stream_t stream;
} mend_dnnl;

/* The process-wide engine and stream (created once), or NULL on failure. */
const mend_dnnl *mend_dnnl_get(void);

/* oneDNN runs its primitives on OpenMP; the calling thread is given the
 * pool's thread count for the call, then put back to 1 (gemm.c keeps
 * dnnl_sgemm single-threaded on each of the pool's threads). */
void mend_dnnl_threads_begin(void);
void mend_dnnl_threads_end(void);

/* Executes prim with n args on the stream and waits. */
mend_status mend_dnnl_exec(dnnl_primitive_t prim, int n, const dnnl_exec_arg_t *args);

/* Reorders (src_md, src) into (dst_md, dst), converting types. */
mend_status mend_dnnl_reorder(const dnnl_memory_desc_t *src_md, const void *src, const dnnl_memory_desc_t *dst_md,
                              void *dst);

/* Per-thread scratch slots that grow to the largest request and are kept. */
enum { MEND_SCR_WPLAIN, MEND_SCR_WANT, MEND_SCR_SRC, MEND_SCR_DST, MEND_SCR_COUNT };
void *mend_scratch(int slot, size_t bytes);

/* A cached primitive for one problem shape (key), with its descriptors. */
typedef struct mend_prim_cache {
    int64_t key[8];
    int valid;
    dnnl_primitive_t prim, src_re, dst_re; /* src_re / dst_re: layout/type reorders, may be NULL */
    dnnl_memory_desc_t src_user, src_md, wei_md, dst_md, dst_user, bias_md;
} mend_prim_cache;

void mend_prim_cache_clear(mend_prim_cache *c);

#define MEND_PRIM_CACHE 4 /* shapes per weight: a whole image, or its top / middle / bottom row bands */
struct mend_wprep {
    dnnl_memory_desc_t md; /* layout of buf */
    void *buf;             /* prepared copy owned here, or NULL */
    mend_prim_cache pc[MEND_PRIM_CACHE];
    int next;              /* entry replaced next */
};

/* The weights of W in layout `want`. `plain` is W's original layout
 * (dims/tag) with W's own data type. The result points to a prepared copy
 * kept in W (bf16, or a fp32 source reordered once) or to scratch filled
 * for this call (f16/bf16 source in fp32: exact widening). */
mend_status mend_wmat_weights(mend_wmat *W, const dnnl_memory_desc_t *plain, const dnnl_memory_desc_t *want,
                              const void **out);

dnnl_data_type_t mend_wtype_dnnl(mend_wtype t);

#endif
