/* The process-wide embeddings database (see embeddings.h) and the public
 * calls around it: the folder setting and A1111's /sdapi/v1/embeddings
 * listing. One mutex guards the slot; a snapshot is immutable once
 * published and freed when its last holder lets go. */
#include "model/embeddings.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mend/mend.h"

static pthread_mutex_t db_lock = PTHREAD_MUTEX_INITIALIZER;
static mend_ti_db *current;        /* the slot's snapshot (holds one reference) */
static int default_width = -1;     /* the text encoder of the last model loaded */
static char embeddings_dir[4096] = "embeddings";

void mend_set_embeddings_dir(const char *dir)
{
    pthread_mutex_lock(&db_lock);
    snprintf(embeddings_dir, sizeof embeddings_dir, "%s", dir && *dir ? dir : "embeddings");
    pthread_mutex_unlock(&db_lock);
}

const char *mend_embeddings_dir(void)
{
    return embeddings_dir;
}

void mend_ti_set_default_width(int width)
{
    pthread_mutex_lock(&db_lock);
    default_width = width;
    pthread_mutex_unlock(&db_lock);
}

/* DirWithTextualInversionEmbeddings.has_changed: a folder that is not
 * there (any more) changes nothing; one whose mtime moved does. */
static int needs_rescan(const mend_ti_db *db, int width)
{
    if (!db || db->expected_shape != width || strcmp(db->dir, embeddings_dir) != 0)
        return 1;
    struct stat st;
    if (stat(embeddings_dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return 0;
    if (!db->dir_present)
        return 1;
    return st.st_mtim.tv_sec != db->mtime.tv_sec || st.st_mtim.tv_nsec != db->mtime.tv_nsec;
}

static void drop(mend_ti_db *db)
{
    if (db && --db->refs == 0)
        mend_ti_db_free(db);
}

mend_status mend_ti_db_acquire(int width, int force, mend_ti_db **out, char **log, mend_err *err)
{
    *out = NULL;
    if (log)
        *log = NULL;
    mend_status s = MEND_OK;
    pthread_mutex_lock(&db_lock);
    if (width <= 0) /* a listing: the model loaded last, else the last scan's */
        width = default_width > 0 ? default_width : current ? current->expected_shape : -1;
    if (force || needs_rescan(current, width)) {
        mend_ti_db *db = NULL;
        s = mend_ti_db_scan(embeddings_dir, width, &db, err);
        if (s == MEND_OK) {
            db->refs = 1;
            drop(current);
            current = db;
            if (log && db->log && !(*log = strdup(db->log)))
                s = mend_fail(err, MEND_E_NOMEM, "embeddings: out of memory");
        }
    }
    if (s == MEND_OK) {
        current->refs++;
        *out = current;
    }
    pthread_mutex_unlock(&db_lock);
    return s;
}

void mend_ti_db_release(mend_ti_db *db)
{
    pthread_mutex_lock(&db_lock);
    drop(db);
    pthread_mutex_unlock(&db_lock);
}

/* ---- the public listing ---- */

static int copy_info(const mend_ti_embedding *e, int skipped, mend_embedding_info *o)
{
    *o = (mend_embedding_info){strdup(e->name), skipped, e->has_step, e->step,
                               e->sd_checkpoint ? strdup(e->sd_checkpoint) : NULL,
                               e->sd_checkpoint_name ? strdup(e->sd_checkpoint_name) : NULL, e->shape, e->vectors};
    return o->name && (!e->sd_checkpoint || o->sd_checkpoint) && (!e->sd_checkpoint_name || o->sd_checkpoint_name);
}

mend_status mend_embeddings_list(int reload, mend_embedding_info **out, int *count, char **log, mend_err *err)
{
    *out = NULL;
    *count = 0;
    mend_ti_db *db = NULL;
    MEND_TRY(mend_ti_db_acquire(0, reload, &db, log, err));
    int n = db->nloaded + db->nskipped, ok = 1;
    mend_embedding_info *list = calloc((size_t)n + 1, sizeof *list);
    ok = list != NULL;
    for (int i = 0; ok && i < db->nloaded; i++)
        ok = copy_info(&db->loaded[i], 0, &list[(*count)++]);
    for (int i = 0; ok && i < db->nskipped; i++)
        ok = copy_info(&db->skipped[i], 1, &list[(*count)++]);
    mend_ti_db_release(db);
    if (!ok) {
        mend_embeddings_list_free(list, *count);
        *count = 0;
        return mend_fail(err, MEND_E_NOMEM, "embeddings: out of memory listing them");
    }
    *out = list;
    return MEND_OK;
}

void mend_embeddings_list_free(mend_embedding_info *list, int count)
{
    for (int i = 0; list && i < count; i++) {
        free(list[i].name);
        free(list[i].sd_checkpoint);
        free(list[i].sd_checkpoint_name);
    }
    free(list);
}
