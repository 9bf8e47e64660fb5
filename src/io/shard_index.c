/* shard_index.c — reads a sharded checkpoint's model.safetensors.index.json
 * (us_shard_index_parse).
 *
 * The file is {"metadata": {...}, "weight_map": {tensor name: file name}}.
 * Only weight_map matters: its values name the shard files, which a loader
 * then opens relative to the model folder, so each must be a plain relative
 * file name that stays inside it (the rules of web/files.js
 * checkRelativeName, plus no backslash and no control character at all):
 * not empty; not starting with '/' or '\'; no URL scheme ("https:", "C:");
 * no backslash, NUL or control character (C0, DEL, C1); and, split at '/',
 * no segment that is empty, "." or "..". The first bad name is reported with
 * web/files.js's message. A tensor named twice, or with a NUL in its name, is
 * an error too, so the map is a function.
 *
 * The result owns copies of the distinct file names (in order of first
 * appearance) and of every tensor name with the index of its file. Both
 * lookups use hash tables, so an index of n entries costs O(n). */
#include <stdlib.h>
#include <string.h>

#include "io/json.h"
#include "unseal.h"

#define US_SI_MAX_DEPTH 64
#define US_SI_WHERE "model.safetensors.index.json"

/* The plain-relative-name rule above. */
static int us_si_name_ok(const char *s, size_t n) {
    if (n == 0 || s[0] == '/' || s[0] == '\\') return 0;
    /* ^[a-zA-Z][a-zA-Z0-9+.-]*: */
    size_t i = 0;
    if ((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')) {
        for (i = 1; i < n; i++) {
            char c = s[i];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' ||
                  c == '.' || c == '-'))
                break;
        }
        if (i < n && s[i] == ':') return 0;
    }
    size_t seg = 0; /* start of the current segment */
    for (i = 0; i <= n; i++) {
        unsigned char c = i < n ? (unsigned char)s[i] : '/';
        if (c < 0x20 || c == 0x7f || c == '\\') return 0;
        if (c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 && (unsigned char)s[i + 1] <= 0x9f)
            return 0; /* U+0080..U+009F */
        if (c != '/') continue;
        size_t len = i - seg;
        if (len == 0 || (len == 1 && s[seg] == '.') || (len == 2 && s[seg] == '.' && s[seg + 1] == '.')) return 0;
        seg = i + 1;
    }
    return 1;
}

static uint64_t us_si_hash(const char *s, size_t n) {
    uint64_t h = 0xcbf29ce484222325u; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 0x100000001b3u;
    return h ^ (h >> 29);
}

/* An open-addressing set of strings, each kept as a borrowed (pointer,
 * length) and a caller's value. */
typedef struct us_si_slot {
    const char *s; /* NULL: empty */
    size_t n;
    int32_t value;
} us_si_slot;

typedef struct us_si_set {
    us_si_slot *slots;
    size_t mask;
} us_si_set;

static int us_si_set_init(us_si_set *set, size_t n) {
    size_t cap = 16;
    while (cap < 2 * n) cap *= 2;
    set->slots = calloc(cap, sizeof *set->slots);
    set->mask = cap - 1;
    return set->slots != NULL;
}

/* The value of s if present; otherwise inserts it with `value` and returns -1.
 * The set never holds more than half its slots, so the probe ends. */
static int32_t us_si_set_get_or_put(us_si_set *set, const char *s, size_t n, int32_t value) {
    for (size_t i = (size_t)us_si_hash(s, n) & set->mask;; i = (i + 1) & set->mask) {
        us_si_slot *e = &set->slots[i];
        if (!e->s) {
            e->s = s;
            e->n = n;
            e->value = value;
            return -1;
        }
        if (e->n == n && memcmp(e->s, s, n) == 0) return e->value;
    }
}

void us_shard_index_free(us_shard_index *idx) {
    if (!idx) return;
    for (int32_t i = 0; idx->files && i < idx->n_files; i++) free(idx->files[i]);
    for (int32_t i = 0; idx->tensors && i < idx->n_tensors; i++) free(idx->tensors[i].name);
    free(idx->files);
    free(idx->tensors);
    memset(idx, 0, sizeof *idx);
}

static char *us_si_dup(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

us_status us_shard_index_parse(const char *json, size_t len, us_shard_index *out, us_error *err) {
    if (!out) return us_fail(err, US_ERR_INVALID_ARG, "us_shard_index_parse: out is NULL");
    memset(out, 0, sizeof *out);
    if (!json && len) return us_fail(err, US_ERR_INVALID_ARG, "us_shard_index_parse: NULL text with a length");
    us_json root;
    us_json_error je = {0, "?"};
    us_status s = us_json_parse(json, len, US_SI_MAX_DEPTH, &root, &je);
    if (s == US_ERR_OOM) return us_fail(err, s, US_SI_WHERE ": out of memory parsing %zu bytes", len);
    if (s != US_OK)
        return us_fail(err, US_ERR_FORMAT, US_SI_WHERE ": invalid JSON at byte %zu: %s", je.offset, je.what);
    us_si_set files = {0}, tensors = {0};
    const us_json *map = NULL;
    /* The last "weight_map", as JSON.parse keeps the last of duplicate keys. */
    for (size_t i = 0; root.kind == US_JSON_OBJECT && i < root.n; i++)
        if (root.keys[i].str_len == 10 && memcmp(root.keys[i].str, "weight_map", 10) == 0) map = &root.items[i];
    if (!map || map->kind != US_JSON_OBJECT) {
        s = us_fail(err, US_ERR_FORMAT,
                    US_SI_WHERE ": expected an object with a \"weight_map\" of tensor name \xe2\x86\x92 file name");
        goto fail;
    }
    if (map->n > (size_t)INT32_MAX) {
        s = us_fail(err, US_ERR_FORMAT, US_SI_WHERE ": weight_map has %zu entries, more than 2^31-1", map->n);
        goto fail;
    }
    out->files = malloc((map->n ? map->n : 1) * sizeof *out->files);
    out->tensors = malloc((map->n ? map->n : 1) * sizeof *out->tensors);
    if (!out->files || !out->tensors || !us_si_set_init(&files, map->n) || !us_si_set_init(&tensors, map->n)) {
        s = us_fail(err, US_ERR_OOM, US_SI_WHERE ": out of memory for %zu entries", map->n);
        goto fail;
    }
    char shown[128];
    for (size_t i = 0; i < map->n; i++) {
        const us_json *key = &map->keys[i], *file = &map->items[i];
        if (memchr(key->str, '\0', key->str_len)) {
            s = us_fail(err, US_ERR_FORMAT,
                        US_SI_WHERE ": the tensor name at byte %zu contains a NUL character (\\u0000)", key->start);
            goto fail;
        }
        if (file->kind != US_JSON_STRING || !us_si_name_ok(file->str, file->str_len)) {
            s = us_fail(err, US_ERR_FORMAT,
                        US_SI_WHERE ": the file name %s must be a plain file name inside the model folder",
                        us_json_show(file, shown, sizeof shown));
            goto fail;
        }
        if (us_si_set_get_or_put(&tensors, key->str, key->str_len, (int32_t)i) >= 0) {
            s = us_fail(err, US_ERR_FORMAT, US_SI_WHERE ": tensor %s appears twice in weight_map",
                        us_json_show(key, shown, sizeof shown));
            goto fail;
        }
        int32_t f = us_si_set_get_or_put(&files, file->str, file->str_len, out->n_files);
        if (f < 0) {
            f = out->n_files;
            if (!(out->files[f] = us_si_dup(file->str, file->str_len))) goto oom;
            out->n_files++;
        }
        us_shard_tensor *t = &out->tensors[out->n_tensors];
        if (!(t->name = us_si_dup(key->str, key->str_len))) goto oom;
        t->file = f;
        out->n_tensors++;
    }
    free(files.slots);
    free(tensors.slots);
    us_json_free(&root);
    return US_OK;
oom:
    s = us_fail(err, US_ERR_OOM, US_SI_WHERE ": out of memory copying names");
fail:
    free(files.slots);
    free(tensors.slots);
    us_shard_index_free(out);
    us_json_free(&root);
    return s;
}
