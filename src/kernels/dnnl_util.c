/* oneDNN engine/stream, thread-count guard, scratch and weight preparation
 * shared by the convolution and linear kernels. */
#include "kernels/dnnl_util.h"

#include "core/half.h"
#include "core/threads.h"

#include <omp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static mend_dnnl g_dnnl;
static int g_dnnl_ok;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void dnnl_init(void)
{
    if (dnnl_engine_create(&g_dnnl.eng, dnnl_cpu, 0) != dnnl_success)
        return;
    if (dnnl_stream_create(&g_dnnl.stream, g_dnnl.eng, dnnl_stream_default_flags) != dnnl_success)
        return;
    g_dnnl_ok = 1;
}

const mend_dnnl *mend_dnnl_get(void)
{
    pthread_once(&g_once, dnnl_init);
    return g_dnnl_ok ? &g_dnnl : NULL;
}

void mend_dnnl_threads_begin(void) { omp_set_num_threads(mend_get_threads()); }
void mend_dnnl_threads_end(void) { omp_set_num_threads(1); }

int mend_cpu_has_bf16(const char **missing)
{
    /* oneDNN's ISA levels are cumulative bit masks; AMX includes
     * avx512_core_bf16. DNNL_MAX_CPU_ISA lowers it, which tests use. */
    unsigned isa = (unsigned)dnnl_get_effective_cpu_isa();
    int ok = (isa & (unsigned)dnnl_cpu_isa_avx512_core_bf16) == (unsigned)dnnl_cpu_isa_avx512_core_bf16;
    if (!ok && missing)
        *missing = "AVX512-BF16 (AMD Zen 4+, Intel Cooper Lake+) or AMX-BF16 (Intel Sapphire Rapids+)";
    return ok;
}

mend_status mend_dnnl_exec(dnnl_primitive_t prim, int n, const dnnl_exec_arg_t *args)
{
    const mend_dnnl *d = mend_dnnl_get();
    if (!d)
        return MEND_E_NOMEM;
    mend_dnnl_threads_begin();
    dnnl_status_t s = dnnl_primitive_execute(prim, d->stream, n, args);
    if (s == dnnl_success)
        s = dnnl_stream_wait(d->stream);
    mend_dnnl_threads_end();
    return s == dnnl_success ? MEND_OK : MEND_E_NOMEM;
}

/* Runs reorder `prim` between two user buffers. */
static mend_status run_reorder(dnnl_primitive_t prim, const dnnl_memory_desc_t *smd, const void *src,
                               const dnnl_memory_desc_t *dmd, void *dst)
{
    const mend_dnnl *d = mend_dnnl_get();
    dnnl_memory_t ms = NULL, md = NULL;
    mend_status st = MEND_E_NOMEM;
    if (dnnl_memory_create(&ms, smd, d->eng, (void *)src) == dnnl_success &&
        dnnl_memory_create(&md, dmd, d->eng, dst) == dnnl_success) {
        dnnl_exec_arg_t a[2] = {{DNNL_ARG_FROM, ms}, {DNNL_ARG_TO, md}};
        st = mend_dnnl_exec(prim, 2, a);
    }
    dnnl_memory_destroy(ms);
    dnnl_memory_destroy(md);
    return st;
}

mend_status mend_dnnl_reorder(const dnnl_memory_desc_t *src_md, const void *src, const dnnl_memory_desc_t *dst_md,
                              void *dst)
{
    const mend_dnnl *d = mend_dnnl_get();
    if (!d)
        return MEND_E_NOMEM;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t prim = NULL;
    mend_status st = MEND_E_NOMEM;
    /* oneDNN's own primitive cache makes repeated creation cheap */
    if (dnnl_reorder_primitive_desc_create(&pd, src_md, d->eng, dst_md, d->eng, NULL) == dnnl_success &&
        dnnl_primitive_create(&prim, pd) == dnnl_success)
        st = run_reorder(prim, src_md, src, dst_md, dst);
    dnnl_primitive_destroy(prim);
    dnnl_primitive_desc_destroy(pd);
    return st;
}

#define BIG_HEADER 64
#define BIG_MMAP_MIN (1u << 20)

void *mend_big_alloc(size_t bytes)
{
    size_t total = bytes + BIG_HEADER;
    if (total < bytes)
        return NULL;
    char *base;
    if (total >= BIG_MMAP_MIN) {
        base = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (base == MAP_FAILED)
            return NULL;
    } else if (!(base = aligned_alloc(BIG_HEADER, (total + BIG_HEADER - 1) & ~(size_t)(BIG_HEADER - 1)))) {
        return NULL;
    }
    memcpy(base, &total, sizeof total);
    return base + BIG_HEADER;
}

void mend_big_free(void *p)
{
    if (!p)
        return;
    char *base = (char *)p - BIG_HEADER;
    size_t total;
    memcpy(&total, base, sizeof total);
    if (total >= BIG_MMAP_MIN)
        munmap(base, total);
    else
        free(base);
}

/* 16 floats = 64 bytes: every part keeps the block's alignment. */
static int64_t aligned_count(int64_t n) { return ((n > 0 ? n : 1) + 15) & ~(int64_t)15; }

float *mend_f32_parts(int n, const int64_t *counts, float **const *fields)
{
    int64_t total = 0;
    for (int i = 0; i < n; i++)
        total += aligned_count(counts[i]);
    float *block = mend_big_alloc((size_t)total * sizeof *block);
    if (!block)
        return NULL;
    float *p = block;
    for (int i = 0; i < n; i++) {
        *fields[i] = p;
        p += aligned_count(counts[i]);
    }
    return block;
}

/* Each thread's scratch lives in a block that a pthread key owns, so it is
 * freed when the thread exits (pool workers on a resize, the server's
 * connection threads at shutdown); __thread alone would leak it. */
typedef struct thread_scratch {
    void *p[MEND_SCR_COUNT];
    size_t size[MEND_SCR_COUNT];
} thread_scratch;

static __thread thread_scratch *t_scr;
static pthread_key_t g_scr_key;
static int g_scr_key_ok;
static pthread_once_t g_scr_once = PTHREAD_ONCE_INIT;

static void scratch_release(void *block)
{
    thread_scratch *ts = block;
    for (int i = 0; i < MEND_SCR_COUNT; i++)
        mend_big_free(ts->p[i]);
    free(ts);
    t_scr = NULL;
}

static void scratch_key_init(void) { g_scr_key_ok = pthread_key_create(&g_scr_key, scratch_release) == 0; }

static thread_scratch *scratch_block(void)
{
    if (t_scr)
        return t_scr;
    pthread_once(&g_scr_once, scratch_key_init);
    thread_scratch *ts = calloc(1, sizeof *ts);
    if (!ts)
        return NULL;
    if (g_scr_key_ok && pthread_setspecific(g_scr_key, ts) != 0) {
        free(ts);
        return NULL;
    }
    t_scr = ts;
    return ts;
}

void *mend_scratch(int slot, size_t bytes)
{
    thread_scratch *ts = scratch_block();
    if (!ts)
        return NULL;
    if (bytes > ts->size[slot]) {
        mend_big_free(ts->p[slot]);
        ts->size[slot] = 0;
        ts->p[slot] = mend_big_alloc(bytes);
        if (!ts->p[slot])
            return NULL;
        ts->size[slot] = bytes;
    }
    return ts->p[slot];
}

void mend_prim_cache_clear(mend_prim_cache *c)
{
    dnnl_primitive_destroy(c->prim);
    dnnl_primitive_destroy(c->src_re);
    dnnl_primitive_destroy(c->dst_re);
    memset(c, 0, sizeof *c);
}

dnnl_data_type_t mend_wtype_dnnl(mend_wtype t)
{
    return t == MEND_W_F32 ? dnnl_f32 : t == MEND_W_F16 ? dnnl_f16 : dnnl_bf16;
}

mend_wmat mend_wmat_borrow_f32(const float *w, int64_t rows, int64_t cols)
{
    return (mend_wmat){.type = MEND_W_F32, .data = (void *)w, .rows = rows, .cols = cols, .borrowed = 1};
}

void mend_wmat_free(mend_wmat *w)
{
    if (!w)
        return;
    if (w->prep) {
        for (int i = 0; i < MEND_PRIM_CACHE; i++)
            mend_prim_cache_clear(&w->prep->pc[i]);
        mend_big_free(w->prep->buf);
        free(w->prep);
    }
    if (!w->borrowed)
        mend_big_free(w->data);
    memset(w, 0, sizeof *w);
}

int mend_wmat_set_prec(mend_wmat *w, mend_kprec p)
{
    if (p == MEND_KPREC_FP32 && w->inexact)
        return 0;
    w->prec = p;
    return 1;
}

mend_status mend_wmat_read_f32(const mend_wmat *W, float *out)
{
    size_t n = (size_t)(W->rows * W->cols);
    if (W->data) {
        if (W->type == MEND_W_F32)
            memcpy(out, W->data, n * sizeof *out);
        else if (W->type == MEND_W_F16)
            mend_f16_to_f32_n(W->data, out, n);
        else
            mend_bf16_to_f32_n(W->data, out, n);
        return MEND_OK;
    }
    if (!W->prep || !W->prep->buf)
        return MEND_E_ARG;
    /* prepared copies are of linears (dims {cols, rows}, plain tag ba) or
     * convolutions (oihw) */
    const dnnl_memory_desc_t *src = &W->prep->md;
    dnnl_memory_desc_t plain;
    if (dnnl_memory_desc_init_by_tag(&plain, src->ndims, src->dims, dnnl_f32, src->ndims == 2 ? dnnl_ba : dnnl_abcd))
        return MEND_E_NOMEM;
    return mend_dnnl_reorder(src, W->prep->buf, &plain, out);
}

/* The source: a prepared copy if there is one, else the original data. */
static const void *source_of(const mend_wmat *W, const dnnl_memory_desc_t *plain, dnnl_memory_desc_t *md)
{
    if (W->prep && W->prep->buf) {
        *md = W->prep->md;
        return W->prep->buf;
    }
    *md = *plain;
    return W->data;
}

typedef struct widen_job {
    const uint16_t *src;
    float *dst;
} widen_job;

#define WIDEN_BLOCK 65536

static void widen_range(void *ctx, int64_t b, int64_t e, int thread)
{
    (void)thread;
    const widen_job *j = ctx;
    mend_f16_to_f32_n(j->src + b * WIDEN_BLOCK, j->dst + b * WIDEN_BLOCK, (size_t)((e - b) * WIDEN_BLOCK));
}

/* f16 -> f32 on the pool (exact, so the split cannot change results). */
static void widen_f16_par(const uint16_t *src, float *dst, int64_t n)
{
    int64_t nb = n / WIDEN_BLOCK;
    widen_job j = {src, dst};
    mend_parallel_for(nb, widen_range, &j);
    mend_f16_to_f32_n(src + nb * WIDEN_BLOCK, dst + nb * WIDEN_BLOCK, (size_t)(n - nb * WIDEN_BLOCK));
}

/* f16 is widened by our exact converter into plain fp32 first: oneDNN
 * 2.x cannot reorder f16 into bf16, and its f16 reorders are not JIT. */
static mend_status widen_f16(const mend_wmat *W, const dnnl_memory_desc_t *plain, dnnl_memory_desc_t *md,
                             const void **src)
{
    size_t n = (size_t)(W->rows * W->cols);
    float *buf = mend_scratch(MEND_SCR_WPLAIN, n * sizeof(float));
    if (!buf)
        return MEND_E_NOMEM;
    widen_f16_par(*src, buf, (int64_t)n);
    *md = *plain;
    md->data_type = dnnl_f32;
    *src = buf;
    return MEND_OK;
}

mend_status mend_wmat_weights(mend_wmat *W, const dnnl_memory_desc_t *plain, const dnnl_memory_desc_t *want,
                              const void **out)
{
    if (!W->prep && !(W->prep = calloc(1, sizeof *W->prep)))
        return MEND_E_NOMEM;
    dnnl_memory_desc_t smd;
    const void *src = source_of(W, plain, &smd);
    if (dnnl_memory_desc_equal(&smd, want)) {
        *out = src;
        return MEND_OK;
    }
    if (smd.data_type == dnnl_f16)
        MEND_TRY(widen_f16(W, plain, &smd, &src));
    if (dnnl_memory_desc_equal(&smd, want)) {
        *out = src;
        return MEND_OK;
    }
    /* Keep a prepared copy when it costs no more memory than the source and
     * loses nothing we still need: bf16 in bf16 mode, a fp32 source in fp32.
     * f16/bf16 sources in fp32 are widened per call (memory stays at the
     * file's size). Borrowed weights are never replaced. */
    int keep = !W->borrowed && (want->data_type == dnnl_bf16 || mend_wtype_dnnl(W->type) == dnnl_f32 ||
                                (W->prep->buf && smd.data_type == want->data_type));
    size_t bytes = dnnl_memory_desc_get_size(want);
    void *dst = keep ? mend_big_alloc(bytes) : mend_scratch(MEND_SCR_WANT, bytes);
    if (!dst)
        return MEND_E_NOMEM;
    mend_status st = mend_dnnl_reorder(&smd, src, want, dst);
    if (st != MEND_OK) {
        if (keep)
            mend_big_free(dst);
        return st;
    }
    if (keep) {
        if (want->data_type == dnnl_bf16 && W->type != MEND_W_BF16)
            W->inexact = 1;
        mend_big_free(W->prep->buf);
        W->prep->buf = dst;
        W->prep->md = *want;
        mend_big_free(W->data);
        W->data = NULL;
    }
    *out = dst;
    return MEND_OK;
}
