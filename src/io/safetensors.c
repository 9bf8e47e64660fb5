/* safetensors.c — reads and fully validates a safetensors file held in memory.
 *
 * Layout: an 8-byte little-endian header length N, N bytes of UTF-8 JSON (an
 * object: tensor name -> {"dtype", "shape", "data_offsets"}, plus an optional
 * "__metadata__" object of strings), then the data section that the offsets
 * count from. Validation follows the reference implementation (huggingface
 * safetensors) and is stricter where it is silent: every failure is a status
 * plus a message naming the tensor, key or byte offset at fault. Nothing is
 * read outside buf[0, len).
 *
 * Checks, in order (the first failure is reported):
 *   1. the prefix: len >= 8; N <= 100 MB; N <= len - 8;
 *   2. the header: valid UTF-8, then strict JSON (json.h), top level an object;
 *   3. each member in file order: "__metadata__" (once, an object of strings),
 *      or a tensor: name without NUL, only the three keys, each once; a known
 *      and supported dtype; shape <= US_MAX_DIMS integers with < 2^31
 *      elements; data_offsets two integers <= 2^53, begin <= end, end - begin
 *      == numel * itemsize (US_ERR_SHAPE);
 *   4. the table: every end within the data section; no name twice; sorted by
 *      offset the tensors tile the data section exactly (no overlap, no gap,
 *      no trailing bytes: the reference's "metadata incomplete buffer").
 *
 * The parsed us_safetensors owns its entry table, names and metadata copy;
 * it borrows buf (st->data points into it). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/json.h"
#include "unseal.h"

/* The reference implementation's limit on N (its MAX_HEADER_SIZE). */
#define US_ST_MAX_HEADER 100000000ull
/* Depth 3 is all the format uses (object -> entry -> shape); a little slack
 * lets small mistakes get a precise message rather than a nesting error. */
#define US_ST_MAX_DEPTH 8

typedef unsigned long long us_ull; /* for printf: uint64_t's format differs by target */

/* A printable, bounded form of a tensor name or key for messages: control
 * characters become '?', and long names are cut at a UTF-8 boundary with
 * "...". Writes into buf (cap >= 8) and returns it. */
static const char *us_st_show(const char *s, size_t len, char *buf, size_t cap) {
    size_t limit = cap - 4, o = 0, i = 0;
    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        size_t clen = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
        if (clen > len - i) break; /* a cut-off character is dropped, not half shown */
        if (o + clen > limit) {
            memcpy(buf + o, "...", 3);
            o += 3;
            break;
        }
        if (c < 0x20 || c == 0x7f) {
            buf[o++] = '?';
        } else {
            memcpy(buf + o, s + i, clen);
            o += clen;
        }
        i += clen;
    }
    buf[o] = '\0';
    return buf;
}

#define US_SHOW_CAP 128

/* "an array", "a number", "null", ... for messages. */
static const char *us_st_kind(us_json_kind k) {
    switch (k) {
    case US_JSON_NULL: return "null";
    case US_JSON_FALSE:
    case US_JSON_TRUE: return "a boolean";
    case US_JSON_NUMBER: return "a number";
    case US_JSON_STRING: return "a string";
    case US_JSON_ARRAY: return "an array";
    case US_JSON_OBJECT: return "an object";
    }
    return "?";
}

static int us_st_streq(const us_json *str, const char *lit) {
    size_t n = strlen(lit);
    return str->str_len == n && memcmp(str->str, lit, n) == 0;
}

/* "[a, b, c]" from 64-bit dims (which may not fit int32 yet). */
static void us_st_dims_str(const uint64_t *dims, size_t n, char *buf, size_t cap) {
    size_t pos = 0;
    int w = snprintf(buf, cap, "[");
    for (size_t i = 0; i < n && w >= 0; i++) {
        pos += (size_t)w;
        if (pos >= cap) break;
        w = snprintf(buf + pos, cap - pos, i ? ", %llu" : "%llu", (us_ull)dims[i]);
    }
    if (w >= 0) pos += (size_t)w;
    if (pos < cap) snprintf(buf + pos, cap - pos, "]");
}

/* Maps a safetensors dtype string. Returns US_OK, US_ERR_DTYPE for a dtype
 * the format defines but this library does not compute with, US_ERR_FORMAT
 * for a string the format does not define. */
static us_status us_st_dtype(const us_json *v, us_dtype *out) {
    static const char *const ours[US_DTYPE_COUNT] = {"F32", "F16", "BF16", "I32", "I64"};
    static const char *const theirs[] = {"BOOL",    "U8",      "I8",      "I16",     "U16",
                                         "U32",     "U64",     "F64",     "C64",     "F8_E5M2",
                                         "F8_E4M3", "F8_E8M0", "F4",      "F6_E2M3", "F6_E3M2"};
    for (int i = 0; i < US_DTYPE_COUNT; i++)
        if (us_st_streq(v, ours[i])) {
            *out = (us_dtype)i;
            return US_OK;
        }
    for (size_t i = 0; i < sizeof theirs / sizeof theirs[0]; i++)
        if (us_st_streq(v, theirs[i])) return US_ERR_DTYPE;
    return US_ERR_FORMAT;
}

/* Validates one tensor entry (the JSON object `v` named `name`) and fills
 * *e, except e->name. Checks that need the whole table (bounds, overlap,
 * coverage) come later. */
static us_status us_st_parse_entry(const us_json *v, const char *name, size_t name_len,
                             us_st_entry *e, us_error *err) {
    char nm[US_SHOW_CAP];
    us_st_show(name, name_len, nm, sizeof nm);
    if (v->kind != US_JSON_OBJECT)
        return us_fail(err, US_ERR_FORMAT, "tensor \"%s\": entry is %s, not an object", nm,
                       us_st_kind(v->kind));
    const us_json *dtype = NULL, *shape = NULL, *offsets = NULL;
    for (size_t i = 0; i < v->n; i++) {
        const us_json *k = &v->keys[i];
        const us_json **slot = us_st_streq(k, "dtype")          ? &dtype
                               : us_st_streq(k, "shape")        ? &shape
                               : us_st_streq(k, "data_offsets") ? &offsets
                                                                : NULL;
        char kn[US_SHOW_CAP];
        us_st_show(k->str, k->str_len, kn, sizeof kn);
        if (!slot)
            return us_fail(err, US_ERR_FORMAT,
                           "tensor \"%s\": unknown key \"%s\" (allowed: dtype, shape, data_offsets)",
                           nm, kn);
        if (*slot)
            return us_fail(err, US_ERR_FORMAT, "tensor \"%s\": key \"%s\" appears twice", nm, kn);
        *slot = &v->items[i];
    }
    if (!dtype) return us_fail(err, US_ERR_FORMAT, "tensor \"%s\": missing \"dtype\"", nm);
    if (!shape) return us_fail(err, US_ERR_FORMAT, "tensor \"%s\": missing \"shape\"", nm);
    if (!offsets) return us_fail(err, US_ERR_FORMAT, "tensor \"%s\": missing \"data_offsets\"", nm);

    /* dtype */
    if (dtype->kind != US_JSON_STRING)
        return us_fail(err, US_ERR_FORMAT, "tensor \"%s\": dtype is %s, not a string", nm,
                       us_st_kind(dtype->kind));
    char dn[US_SHOW_CAP];
    us_st_show(dtype->str, dtype->str_len, dn, sizeof dn);
    us_status s = us_st_dtype(dtype, &e->dtype);
    if (s == US_ERR_DTYPE)
        return us_fail(err, US_ERR_DTYPE,
                       "tensor \"%s\": dtype %s is not supported (only F32, F16, BF16, I32, I64)",
                       nm, dn);
    if (s != US_OK) return us_fail(err, US_ERR_FORMAT, "tensor \"%s\": unknown dtype \"%s\"", nm, dn);

    /* shape: a list of at most US_MAX_DIMS non-negative integers whose
     * product fits int32. */
    if (shape->kind != US_JSON_ARRAY)
        return us_fail(err, US_ERR_FORMAT, "tensor \"%s\": shape is %s, not a list of integers",
                       nm, us_st_kind(shape->kind));
    if (shape->n > US_MAX_DIMS)
        return us_fail(err, US_ERR_FORMAT,
                       "tensor \"%s\": shape has %zu dimensions, more than US_MAX_DIMS (%d)", nm,
                       shape->n, US_MAX_DIMS);
    uint64_t dims[US_MAX_DIMS];
    int has_zero = 0;
    for (size_t i = 0; i < shape->n; i++) {
        const char *why = us_json_uint(&shape->items[i], &dims[i]);
        if (why)
            return us_fail(err, US_ERR_FORMAT,
                           "tensor \"%s\": shape dimension %zu %s (must be a non-negative integer)",
                           nm, i, why);
        if (dims[i] > INT32_MAX)
            return us_fail(err, US_ERR_FORMAT,
                           "tensor \"%s\": shape dimension %zu is %llu, larger than 2^31-1", nm, i,
                           (us_ull)dims[i]);
        has_zero |= dims[i] == 0;
    }
    uint64_t numel = has_zero ? 0 : 1;
    for (size_t i = 0; i < shape->n && numel; i++) {
        numel *= dims[i]; /* both <= 2^31 - 1: no 64-bit overflow */
        if (numel > INT32_MAX) {
            char sh[160];
            us_st_dims_str(dims, shape->n, sh, sizeof sh);
            return us_fail(err, US_ERR_FORMAT,
                           "tensor \"%s\": shape %s has more than 2^31-1 elements", nm, sh);
        }
    }
    e->ndim = (int32_t)shape->n;
    for (size_t i = 0; i < shape->n; i++) e->shape[i] = (int32_t)dims[i];

    /* data_offsets: [begin, end], begin <= end, spanning exactly the bytes
     * the shape and dtype need. */
    if (offsets->kind != US_JSON_ARRAY || offsets->n != 2)
        return us_fail(err, US_ERR_FORMAT,
                       "tensor \"%s\": data_offsets must be a list of two integers [begin, end]", nm);
    uint64_t be[2];
    for (int i = 0; i < 2; i++) {
        const char *why = us_json_uint(&offsets->items[i], &be[i]);
        if (why)
            return us_fail(err, US_ERR_FORMAT,
                           "tensor \"%s\": data_offsets %s %s (must be a non-negative integer)", nm,
                           i ? "end" : "begin", why);
    }
    if (be[0] > be[1])
        return us_fail(err, US_ERR_FORMAT, "tensor \"%s\": data_offsets [%llu, %llu] has begin > end",
                       nm, (us_ull)be[0], (us_ull)be[1]);
    uint64_t need = numel * us_dtype_size(e->dtype);
    if (be[1] - be[0] != need) {
        char sh[160];
        us_st_dims_str(dims, shape->n, sh, sizeof sh);
        return us_fail(err, US_ERR_SHAPE,
                       "tensor \"%s\": shape %s of dtype %s needs %llu bytes, but data_offsets "
                       "[%llu, %llu] span %llu bytes",
                       nm, sh, us_dtype_name(e->dtype), (us_ull)need, (us_ull)be[0],
                       (us_ull)be[1], (us_ull)(be[1] - be[0]));
    }
    e->begin = be[0];
    e->end = be[1];
    return US_OK;
}

/* Orders metadata keys by (length, bytes), then by position in the object, so
 * equal keys sit together in file order. */
static int us_st_cmp_key(const void *a, const void *b) {
    const us_json *x = *(const us_json *const *)a, *y = *(const us_json *const *)b;
    if (x->str_len != y->str_len) return x->str_len < y->str_len ? -1 : 1;
    int c = memcmp(x->str, y->str, x->str_len);
    if (c) return c;
    return x < y ? -1 : x > y ? 1 : 0;
}

/* Validates __metadata__: an object whose values are all strings, no key
 * twice. Sets *copy to an owned copy of its raw JSON text. The first fault in
 * member order is reported; duplicates are found by sorting, since the header
 * may hold millions of keys. */
static us_status us_st_metadata(const us_json *v, char **copy, us_error *err) {
    if (v->kind != US_JSON_OBJECT)
        return us_fail(err, US_ERR_FORMAT, "__metadata__ is %s, not an object of strings",
                       us_st_kind(v->kind));
    size_t first_bad = v->n; /* the first member whose value is not a string */
    for (size_t i = 0; i < v->n && first_bad == v->n; i++)
        if (v->items[i].kind != US_JSON_STRING) first_bad = i;
    size_t first_dup = v->n; /* the first member whose key appeared before it */
    if (v->n > 1) {
        const us_json **order = malloc(v->n * sizeof *order);
        if (!order) return us_fail(err, US_ERR_OOM, "out of memory checking %zu __metadata__ keys", v->n);
        for (size_t i = 0; i < v->n; i++) order[i] = &v->keys[i];
        qsort(order, v->n, sizeof *order, us_st_cmp_key);
        for (size_t i = 1; i < v->n; i++)
            if (order[i]->str_len == order[i - 1]->str_len &&
                memcmp(order[i]->str, order[i - 1]->str, order[i]->str_len) == 0 &&
                (size_t)(order[i] - v->keys) < first_dup)
                first_dup = (size_t)(order[i] - v->keys);
        free(order);
    }
    if (first_bad < v->n && first_bad <= first_dup) {
        char kn[US_SHOW_CAP];
        us_st_show(v->keys[first_bad].str, v->keys[first_bad].str_len, kn, sizeof kn);
        return us_fail(err, US_ERR_FORMAT, "__metadata__ value of \"%s\" is %s, not a string", kn,
                       us_st_kind(v->items[first_bad].kind));
    }
    if (first_dup < v->n) {
        char kn[US_SHOW_CAP];
        us_st_show(v->keys[first_dup].str, v->keys[first_dup].str_len, kn, sizeof kn);
        return us_fail(err, US_ERR_FORMAT, "__metadata__ key \"%s\" appears twice", kn);
    }
    size_t n = v->end - v->start;
    *copy = malloc(n + 1);
    if (!*copy) return us_fail(err, US_ERR_OOM, "out of memory copying __metadata__ (%zu bytes)", n);
    memcpy(*copy, v->raw, n);
    (*copy)[n] = '\0';
    return US_OK;
}

static int us_st_cmp_name(const void *a, const void *b) {
    const us_st_entry *x = *(const us_st_entry *const *)a, *y = *(const us_st_entry *const *)b;
    return strcmp(x->name, y->name);
}

/* Orders by (begin, end), then by position in the table so the order (and
 * so the messages) never depend on qsort's instability. */
static int us_st_cmp_offsets(const void *a, const void *b) {
    const us_st_entry *x = *(const us_st_entry *const *)a, *y = *(const us_st_entry *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return x < y ? -1 : x > y ? 1 : 0;
}

/* Table-wide checks on st->entries: unique names, every tensor inside the
 * data section, and the tensors tiling it exactly (no overlap, no gap, no
 * trailing bytes). */
static us_status us_st_check_table(const us_safetensors *st, us_error *err) {
    size_t n = (size_t)st->n_entries;
    char a[US_SHOW_CAP], b[US_SHOW_CAP];
    for (size_t i = 0; i < n; i++) {
        const us_st_entry *e = &st->entries[i];
        if (e->end > st->data_len)
            return us_fail(err, US_ERR_FORMAT,
                           "tensor \"%s\": data_offsets [%llu, %llu] reach beyond the end of the "
                           "data section (%llu bytes)",
                           us_st_show(e->name, strlen(e->name), a, sizeof a), (us_ull)e->begin,
                           (us_ull)e->end, (us_ull)st->data_len);
    }
    if (n == 0) {
        if (st->data_len)
            return us_fail(err, US_ERR_FORMAT,
                           "no tensors, but the data section holds %llu bytes (metadata incomplete buffer)",
                           (us_ull)st->data_len);
        return US_OK;
    }
    const us_st_entry **order = malloc(n * sizeof *order);
    if (!order) return us_fail(err, US_ERR_OOM, "out of memory checking %zu tensors", n);
    us_status s = US_OK;
    for (size_t i = 0; i < n; i++) order[i] = &st->entries[i];
    qsort(order, n, sizeof *order, us_st_cmp_name);
    for (size_t i = 1; i < n && s == US_OK; i++)
        if (strcmp(order[i - 1]->name, order[i]->name) == 0)
            s = us_fail(err, US_ERR_FORMAT, "duplicate tensor name \"%s\"",
                        us_st_show(order[i]->name, strlen(order[i]->name), a, sizeof a));
    if (s == US_OK) {
        for (size_t i = 0; i < n; i++) order[i] = &st->entries[i];
        qsort(order, n, sizeof *order, us_st_cmp_offsets);
        uint64_t covered = 0; /* data section bytes [0, covered) are accounted for */
        const us_st_entry *prev = NULL;
        for (size_t i = 0; i < n && s == US_OK; i++) {
            const us_st_entry *e = order[i];
            us_st_show(e->name, strlen(e->name), a, sizeof a);
            if (e->begin < covered) {
                us_st_show(prev->name, strlen(prev->name), b, sizeof b);
                s = us_fail(err, US_ERR_FORMAT,
                            "tensors \"%s\" [%llu, %llu] and \"%s\" [%llu, %llu] overlap", b,
                            (us_ull)prev->begin, (us_ull)prev->end, a, (us_ull)e->begin,
                            (us_ull)e->end);
            } else if (e->begin > covered) {
                s = us_fail(err, US_ERR_FORMAT,
                            "gap: data section bytes [%llu, %llu) before tensor \"%s\" belong to no "
                            "tensor (metadata incomplete buffer)",
                            (us_ull)covered, (us_ull)e->begin, a);
            }
            covered = e->end;
            prev = e;
        }
        if (s == US_OK && covered != st->data_len)
            s = us_fail(err, US_ERR_FORMAT,
                        "trailing data: data section bytes [%llu, %llu) after the last tensor belong "
                        "to no tensor (metadata incomplete buffer)",
                        (us_ull)covered, (us_ull)st->data_len);
    }
    free(order);
    return s;
}

/* The parser behind both entry points: buf holds `avail` bytes of a file of
 * `len` bytes (avail == len for a whole file; at least the header otherwise).
 * len is 64-bit: a file read piece by piece may be larger than the address
 * space (GPT-2 XL's single 6.4 GB file in wasm32). */
static us_status parse_impl(const uint8_t *buf, size_t avail, uint64_t len, us_safetensors *st, us_error *err);

us_status us_safetensors_parse(const uint8_t *buf, size_t len, us_safetensors *st, us_error *err) {
    return parse_impl(buf, len, len, st, err);
}

us_status us_safetensors_parse_header(const uint8_t *buf, size_t avail, uint64_t file_len, us_safetensors *st,
                                      us_error *err) {
    if (avail > file_len) avail = (size_t)file_len;
    return parse_impl(buf, avail, file_len, st, err);
}

static us_status parse_impl(const uint8_t *buf, size_t avail, uint64_t len, us_safetensors *st, us_error *err) {
    if (!st) return us_fail(err, US_ERR_INVALID_ARG, "us_safetensors_parse: st is NULL");
    memset(st, 0, sizeof *st);
    if (!buf && avail) return us_fail(err, US_ERR_INVALID_ARG, "us_safetensors_parse: buf is NULL");
    if (avail < 8 && avail < len)
        return us_fail(err, US_ERR_INVALID_ARG, "safetensors header: give at least the first 8 bytes");
    if (len < 8)
        return us_fail(err, US_ERR_FORMAT,
                       "file is %llu bytes, shorter than the 8-byte header length prefix", (us_ull)len);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | buf[i];
    if (n > US_ST_MAX_HEADER)
        return us_fail(err, US_ERR_FORMAT,
                       "header length %llu is absurd (more than %llu bytes; corrupt or not a "
                       "safetensors file)",
                       (us_ull)n, (us_ull)US_ST_MAX_HEADER);
    if (n > len - 8)
        return us_fail(err, US_ERR_FORMAT,
                       "header length %llu is larger than the %llu bytes after the 8-byte prefix "
                       "(file truncated?)",
                       (us_ull)n, (us_ull)(len - 8));
    if (8 + n > avail)
        return us_fail(err, US_ERR_INVALID_ARG, "safetensors header: give the first %llu bytes (the header), got %zu",
                       (us_ull)(8 + n), avail);
    const char *text = (const char *)buf + 8;
    size_t hlen = (size_t)n;
    size_t bad = us_utf8_invalid_at((const uint8_t *)text, hlen);
    if (bad < hlen)
        return us_fail(err, US_ERR_FORMAT,
                       "header is not valid UTF-8 at header byte %zu (file byte %zu, value 0x%02x)",
                       bad, bad + 8, (unsigned)(uint8_t)text[bad]);

    us_json root;
    us_json_error jerr = {0, "?"};
    us_status s = us_json_parse(text, hlen, US_ST_MAX_DEPTH, &root, &jerr);
    if (s == US_ERR_OOM) return us_fail(err, s, "out of memory parsing the %zu-byte header", hlen);
    if (s != US_OK) {
        /* Quote a little of the text at the fault (it is valid UTF-8 by now). */
        char near[40] = "";
        if (jerr.offset < hlen) {
            size_t k = hlen - jerr.offset < 24 ? hlen - jerr.offset : 24;
            while (k > 1 && text[jerr.offset + k - 1] == ' ') k--; /* not the padding */
            char shown[US_SHOW_CAP];
            snprintf(near, sizeof near, " near \"%s\"",
                     us_st_show(text + jerr.offset, k, shown, 28));
        }
        return us_fail(err, US_ERR_FORMAT,
                       "header is not valid JSON: %s at header byte %zu (file byte %zu)%s",
                       jerr.what, jerr.offset, jerr.offset + 8, near);
    }
    if (root.kind != US_JSON_OBJECT) {
        s = us_fail(err, US_ERR_FORMAT, "header's top level is %s, not an object",
                    us_st_kind(root.kind));
        us_json_free(&root);
        return s;
    }

    st->header_len = n;
    st->data = avail == len ? buf + 8 + hlen : NULL; /* NULL: only the header was given */
    st->data_len = len - 8 - hlen;
    if (root.n > INT32_MAX) {
        s = us_fail(err, US_ERR_FORMAT, "header lists %zu tensors, more than 2^31-1", root.n);
        goto fail;
    }
    st->entries = calloc(root.n ? root.n : 1, sizeof *st->entries);
    if (!st->entries) {
        s = us_fail(err, US_ERR_OOM, "out of memory for %zu tensor entries", root.n);
        goto fail;
    }
    int seen_meta = 0;
    for (size_t i = 0; i < root.n; i++) {
        const us_json *key = &root.keys[i];
        if (us_st_streq(key, "__metadata__")) {
            if (seen_meta) {
                s = us_fail(err, US_ERR_FORMAT, "\"__metadata__\" appears twice (header byte %zu)",
                            key->start);
                goto fail;
            }
            seen_meta = 1;
            s = us_st_metadata(&root.items[i], &st->metadata_json, err);
            if (s != US_OK) goto fail;
            continue;
        }
        if (strlen(key->str) != key->str_len) {
            s = us_fail(err, US_ERR_FORMAT,
                        "tensor name at header byte %zu contains a NUL character (\\u0000)",
                        key->start);
            goto fail;
        }
        us_st_entry *e = &st->entries[st->n_entries];
        s = us_st_parse_entry(&root.items[i], key->str, key->str_len, e, err);
        if (s != US_OK) goto fail;
        e->name = malloc(key->str_len + 1);
        if (!e->name) {
            s = us_fail(err, US_ERR_OOM, "out of memory copying a tensor name");
            goto fail;
        }
        memcpy(e->name, key->str, key->str_len + 1);
        st->n_entries++;
    }
    s = us_st_check_table(st, err);
    if (s != US_OK) goto fail;
    us_json_free(&root);
    return US_OK;

fail:
    us_json_free(&root);
    us_safetensors_free(st);
    return s;
}

void us_safetensors_free(us_safetensors *st) {
    if (!st) return;
    if (st->entries)
        for (int32_t i = 0; i < st->n_entries; i++) free(st->entries[i].name);
    free(st->entries);
    free(st->metadata_json);
    memset(st, 0, sizeof *st);
}

int32_t us_safetensors_find(const us_safetensors *st, const char *name) {
    if (!st || !name) return -1;
    for (int32_t i = 0; i < st->n_entries; i++)
        if (st->entries[i].name && strcmp(st->entries[i].name, name) == 0) return i;
    return -1;
}
