#include "core/threads.h"

#include "mend/mend.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#define MEND_MAX_THREADS 256

typedef struct pool {
    pthread_mutex_t mu;
    pthread_cond_t work_cv, done_cv;
    pthread_t tid[MEND_MAX_THREADS];
    int nworkers;          /* threads besides the caller */
    uint64_t generation;   /* bumped for every job */
    int pending;           /* workers still running the current job */
    int quit;
    uint64_t start_gen[MEND_MAX_THREADS]; /* generation each worker starts from */
    /* the current job */
    mend_range_fn fn;
    void *ctx;
    int64_t n;
    int chunks;
} pool;

static pool g_pool = {
    .mu = PTHREAD_MUTEX_INITIALIZER,
    .work_cv = PTHREAD_COND_INITIALIZER,
    .done_cv = PTHREAD_COND_INITIALIZER,
};
/* Serialises whole jobs when several application threads share the pool. */
static pthread_mutex_t g_job = PTHREAD_MUTEX_INITIALIZER;
static int g_threads = 0;         /* requested; 0 = all CPUs */
static __thread int t_in_parallel = 0;

static void chunk_bounds(int64_t n, int chunks, int i, int64_t *b, int64_t *e)
{
    *b = n * i / chunks;
    *e = n * (i + 1) / chunks;
}

static void *worker_main(void *arg)
{
    int index = (int)(intptr_t)arg; /* 1..nworkers */
    pthread_mutex_lock(&g_pool.mu);
    /* set before this thread was created, so a job published before we got
     * the lock is still seen as new */
    uint64_t seen = g_pool.start_gen[index];
    for (;;) {
        while (!g_pool.quit && g_pool.generation == seen)
            pthread_cond_wait(&g_pool.work_cv, &g_pool.mu);
        if (g_pool.quit)
            break;
        seen = g_pool.generation;
        mend_range_fn fn = g_pool.fn;
        void *ctx = g_pool.ctx;
        int64_t n = g_pool.n;
        int chunks = g_pool.chunks;
        pthread_mutex_unlock(&g_pool.mu);
        if (index < chunks) {
            int64_t b, e;
            chunk_bounds(n, chunks, index, &b, &e);
            t_in_parallel = 1;
            if (e > b)
                fn(ctx, b, e, index);
            t_in_parallel = 0;
        }
        pthread_mutex_lock(&g_pool.mu);
        if (--g_pool.pending == 0)
            pthread_cond_signal(&g_pool.done_cv);
    }
    pthread_mutex_unlock(&g_pool.mu);
    return NULL;
}

static void pool_stop(void)
{
    pthread_mutex_lock(&g_pool.mu);
    g_pool.quit = 1;
    pthread_cond_broadcast(&g_pool.work_cv);
    pthread_mutex_unlock(&g_pool.mu);
    for (int i = 0; i < g_pool.nworkers; i++)
        pthread_join(g_pool.tid[i], NULL);
    g_pool.nworkers = 0;
    g_pool.quit = 0;
}

/* Starts workers so that caller + workers == want; falls back to fewer
 * threads if the system refuses to create them. Called with g_job held and
 * g_pool.mu not held. */
static void pool_resize(int want)
{
    if (g_pool.nworkers == want - 1)
        return;
    pool_stop();
    pthread_mutex_lock(&g_pool.mu);
    int created = 0;
    for (int i = 0; i < want - 1; i++) {
        g_pool.start_gen[i + 1] = g_pool.generation;
        if (pthread_create(&g_pool.tid[i], NULL, worker_main, (void *)(intptr_t)(i + 1)) != 0)
            break;
        created++;
    }
    g_pool.nworkers = created;
    pthread_mutex_unlock(&g_pool.mu);
}

void mend_set_threads(int n)
{
    if (n < 0)
        n = 0;
    if (n > MEND_MAX_THREADS)
        n = MEND_MAX_THREADS;
    g_threads = n;
}

int mend_get_threads(void)
{
    if (g_threads > 0)
        return g_threads;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus < 1)
        cpus = 1;
    return cpus > MEND_MAX_THREADS ? MEND_MAX_THREADS : (int)cpus;
}

void mend_parallel_for_max(int64_t n, int max_chunks, mend_range_fn fn, void *ctx)
{
    if (n <= 0)
        return;
    int threads = mend_get_threads();
    int chunks = threads < max_chunks ? threads : max_chunks;
    if ((int64_t)chunks > n)
        chunks = (int)n;
    if (chunks <= 1 || t_in_parallel) {
        fn(ctx, 0, n, 0);
        return;
    }
    pthread_mutex_lock(&g_job);
    pool_resize(threads);
    pthread_mutex_lock(&g_pool.mu);
    if (chunks > g_pool.nworkers + 1)
        chunks = g_pool.nworkers + 1;
    g_pool.fn = fn;
    g_pool.ctx = ctx;
    g_pool.n = n;
    g_pool.chunks = chunks;
    g_pool.pending = g_pool.nworkers;
    g_pool.generation++;
    pthread_cond_broadcast(&g_pool.work_cv);
    pthread_mutex_unlock(&g_pool.mu);

    int64_t b, e;
    chunk_bounds(n, chunks, 0, &b, &e);
    t_in_parallel = 1;
    fn(ctx, b, e, 0);
    t_in_parallel = 0;

    pthread_mutex_lock(&g_pool.mu);
    while (g_pool.pending > 0)
        pthread_cond_wait(&g_pool.done_cv, &g_pool.mu);
    pthread_mutex_unlock(&g_pool.mu);
    pthread_mutex_unlock(&g_job);
}

void mend_parallel_for(int64_t n, mend_range_fn fn, void *ctx)
{
    mend_parallel_for_max(n, MEND_MAX_THREADS, fn, ctx);
}
