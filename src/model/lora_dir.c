/* The LoRA folder: networks found by file stem or by their safetensors
 * metadata ss_output_name (A1111's alias), and the kohya "addnet" hash
 * A1111 writes as `Lora hashes` (sha256 of the bytes after the header). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cJSON.h"
#include "core/sha256.h"
#include "mend/mend.h"
#include "model/lora.h"

/* The ss_output_name of an open file, copied into out ("" when none). */
static void alias_of(const mend_tf *f, char *out, size_t size) {
    cJSON *m = f->metadata_json ? cJSON_Parse(f->metadata_json) : NULL;
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(m, "ss_output_name");
    snprintf(out, size, "%s", cJSON_IsString(a) ? a->valuestring : "");
    cJSON_Delete(m);
}

static int has_suffix(const char *s, const char *suf) {
    size_t n = strlen(s), k = strlen(suf);
    return n > k && strcmp(s + n - k, suf) == 0;
}

mend_status mend_lora_find(const char *dir, const char *name, char *path, size_t size, mend_err *err) {
    snprintf(path, size, "%s/%s.safetensors", dir, name);
    FILE *fp = fopen(path, "rb");
    if (fp) return fclose(fp), MEND_OK;
    DIR *d = opendir(dir);
    if (!d) return mend_fail(err, MEND_E_IO, "%s: cannot open the LoRA folder", dir);
    mend_status st = mend_fail(err, MEND_E_IO, "Lora not found: %s", name);
    for (struct dirent *e; st != MEND_OK && (e = readdir(d));) {
        if (!has_suffix(e->d_name, ".safetensors")) continue;
        mend_tf *f = NULL;
        mend_err e2 = {0};
        char alias[MEND_LORA_NAME_MAX];
        snprintf(path, size, "%s/%s", dir, e->d_name);
        if (mend_tf_open(path, &f, &e2) != MEND_OK) continue; /* a broken file is no match */
        alias_of(f, alias, sizeof alias);
        mend_tf_close(f);
        if (strcmp(alias, name) == 0) {
            mend_err_clear(err);
            st = MEND_OK;
        }
    }
    closedir(d);
    return st;
}

mend_status mend_lora_addnet_hash(const char *path, char hex[65], mend_err *err) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return mend_fail(err, MEND_E_IO, "%s: cannot open", path);
    uint8_t len8[8], buf[65536], digest[32];
    mend_status st = MEND_OK;
    uint64_t hl = 0;
    if (fread(len8, 1, 8, fp) != 8) st = mend_fail(err, MEND_E_FORMAT, "%s: not a safetensors file", path);
    for (int i = 7; st == MEND_OK && i >= 0; i--) hl = hl << 8 | len8[i];
    if (st == MEND_OK && fseek(fp, (long)(8 + hl), SEEK_SET) != 0) st = mend_fail(err, MEND_E_FORMAT, "%s: bad header", path);
    mend_sha256 s;
    mend_sha256_init(&s);
    for (size_t n; st == MEND_OK && (n = fread(buf, 1, sizeof buf, fp)) > 0;) mend_sha256_update(&s, buf, n);
    if (st == MEND_OK && ferror(fp)) st = mend_fail(err, MEND_E_IO, "%s: read error", path);
    fclose(fp);
    if (st != MEND_OK) return st;
    mend_sha256_final(&s, digest);
    mend_sha256_hex(digest, hex);
    return MEND_OK;
}

/* One listing entry for dir/file (0 when the file cannot be read). */
static int list_entry(const char *dir, const char *file, mend_lora_info *e) {
    char path[4096], alias[MEND_LORA_NAME_MAX];
    mend_tf *f = NULL;
    mend_err err = {0};
    snprintf(path, sizeof path, "%s/%s", dir, file);
    if (mend_tf_open(path, &f, &err) != MEND_OK) return 0;
    alias_of(f, alias, sizeof alias);
    e->name = strndup(file, strlen(file) - strlen(".safetensors"));
    e->alias = strdup(alias[0] ? alias : e->name ? e->name : "");
    e->path = strdup(path);
    e->metadata = strdup(f->metadata_json ? f->metadata_json : "{}");
    mend_tf_close(f);
    return 1;
}

static int by_name(const void *a, const void *b) {
    return strcmp(((const mend_lora_info *)a)->name, ((const mend_lora_info *)b)->name);
}

mend_status mend_lora_list(const char *dir, mend_lora_info **out, int *count, mend_err *err) {
    *out = NULL;
    *count = 0;
    DIR *d = opendir(dir);
    if (!d) return MEND_OK; /* A1111 lists nothing for a missing folder */
    int cap = 0, ok = 1;
    for (struct dirent *e; ok && (e = readdir(d));) {
        if (!has_suffix(e->d_name, ".safetensors")) continue;
        if (*count == cap) {
            mend_lora_info *n = realloc(*out, (size_t)(cap = cap ? 2 * cap : 16) * sizeof *n);
            if (!(ok = n != NULL)) break;
            *out = n;
        }
        mend_lora_info *it = &(*out)[*count];
        memset(it, 0, sizeof *it);
        if (!list_entry(dir, e->d_name, it)) continue;
        (*count)++;
        ok = it->name && it->alias && it->path && it->metadata;
    }
    closedir(d);
    if (!ok) {
        mend_lora_list_free(*out, *count);
        *out = NULL, *count = 0;
        return mend_fail(err, MEND_E_NOMEM, "%s: out of memory listing LoRA networks", dir);
    }
    if (*count > 1) qsort(*out, (size_t)*count, sizeof **out, by_name);
    return MEND_OK;
}

void mend_lora_list_free(mend_lora_info *list, int count) {
    for (int i = 0; list && i < count; i++) {
        free(list[i].name);
        free(list[i].alias);
        free(list[i].path);
        free(list[i].metadata);
    }
    free(list);
}
