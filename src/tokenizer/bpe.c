/* bpe.c — the byte-level BPE tokenizer declared in bpe.h.
 *
 * A us_bpe holds three tables, all built once and read-only afterwards:
 *   - tokens: id -> bytes (offset and length into one byte block), for decode;
 *   - vocab:  bytes -> id, an open-addressing hash over the model's tokens,
 *     used to resolve merges while loading (and whole pieces when a
 *     tokenizer.json asks for ignore_merges);
 *   - merges: (left id, right id) -> (rank, merged id), an open-addressing
 *     hash keyed by the pair packed into 64 bits.
 * Encoding (us_bpe_encode_with) walks the GPT-2 pieces of the text; each
 * piece starts as one token per byte and is merged, lowest rank first and
 * leftmost on ties, by a scan for short pieces or a heap for long ones. All
 * scratch memory belongs to the call, so a const us_bpe is thread-safe. */
#include "tokenizer/bpe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/json.h"
#include "tokenizer/bpe_internal.h"
#include "tokenizer/pretokenize.h"

#define US_NO_RANK INT32_MAX

typedef struct us_vocab_slot {
    uint32_t off, len; /* the token's bytes in t->bytes */
    int32_t id;        /* -1: empty slot */
} us_vocab_slot;

typedef struct us_merge_slot {
    uint64_t key; /* (left << 32) | right; US_EMPTY_KEY when empty */
    int32_t rank;
    int32_t new_id;
} us_merge_slot;

#define US_EMPTY_KEY UINT64_MAX /* ids are < 2^24, so no pair packs to this */

struct us_bpe {
    int32_t n_ids;      /* largest id + 1 */
    uint32_t *tok_off;  /* (n_ids) offset of each token's bytes in `bytes` */
    int32_t *tok_len;   /* (n_ids) their length, -1 for an id without a token */
    uint8_t *bytes;     /* every token's bytes, back to back */
    size_t bytes_len;
    int32_t byte_id[256]; /* the one-byte token of each byte */

    us_vocab_slot *vocab; /* (vocab_mask + 1) slots */
    size_t vocab_mask;
    us_merge_slot *merges; /* (merge_mask + 1) slots */
    size_t merge_mask;
    size_t n_merges;

    int add_prefix_space; /* prepend ' ' to text that does not start with one */
    int use_regex;        /* split into GPT-2 pieces (else the text is one piece) */
    int ignore_merges;    /* a piece that is a token is that token */
};

/* ---------------------------------------------------------------- helpers */

/* GPT-2's byte-to-unicode alphabet, backwards: the byte a code point stands
 * for, or -1. Printable Latin-1 bytes stand for themselves; the other 68
 * (0x00-0x20, 0x7f-0xa0, 0xad) became U+0100.. U+0143 in order. */
static int us_alphabet_byte(uint32_t cp) {
    if ((cp >= 0x21 && cp <= 0x7e) || (cp >= 0xa1 && cp <= 0xac) || (cp >= 0xae && cp <= 0xff))
        return (int)cp;
    if (cp < 0x100 || cp > 0x143) return -1;
    uint32_t n = cp - 0x100;
    if (n <= 0x20) return (int)n;
    if (n < 67) return (int)(0x7f + (n - 33));
    return 0xad;
}

/* Decodes the alphabet string s[0, len) (valid UTF-8) into out (room for len
 * bytes). Returns the number of bytes, or -1 with the first code point outside
 * the alphabet in *bad. */
static long us_alphabet_decode(const uint8_t *s, size_t len, uint8_t *out, uint32_t *bad) {
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        i += us_utf8_decode(s, len, i, &cp);
        int b = cp == US_UTF8_INVALID ? -1 : us_alphabet_byte(cp);
        if (b < 0) {
            *bad = cp;
            return -1;
        }
        out[n++] = (uint8_t)b;
    }
    return (long)n;
}

/* Writes s[0, len) quoted into buf for an error message: escapes quotes,
 * backslashes and control bytes, and shortens long strings with "...". */
static const char *us_quote(const void *sv, size_t len, char *buf, size_t cap) {
    const uint8_t *s = sv;
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;
    buf[n++] = '"';
    for (size_t i = 0; i < len; i++) {
        if (n + 10 >= cap) { /* room for an escape, "...\"" and NUL */
            /* back off to a character boundary */
            while (n > 1 && ((uint8_t)buf[n - 1] & 0xc0) == 0x80) n--;
            if (n > 1 && (uint8_t)buf[n - 1] >= 0xc0) n--;
            memcpy(buf + n, "...", 3);
            n += 3;
            break;
        }
        uint8_t c = s[i];
        if (c == '"' || c == '\\') {
            buf[n++] = '\\';
            buf[n++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            buf[n++] = '\\';
            buf[n++] = 'x';
            buf[n++] = hex[c >> 4];
            buf[n++] = hex[c & 15];
        } else {
            buf[n++] = (char)c;
        }
    }
    buf[n++] = '"';
    buf[n] = '\0';
    return buf;
}

static uint64_t us_hash_bytes(const uint8_t *s, size_t len) {
    uint64_t h = 0xcbf29ce484222325u; /* FNV-1a */
    for (size_t i = 0; i < len; i++) h = (h ^ s[i]) * 0x100000001b3u;
    return h ^ (h >> 29);
}

static uint64_t us_hash_pair(uint64_t key) {
    key *= 0x9e3779b97f4a7c15u;
    return key ^ (key >> 31);
}

/* The smallest power of two >= 2 * n, at least 16. */
static size_t us_table_size(size_t n) {
    size_t c = 16;
    while (c < 2 * n) c *= 2;
    return c;
}

/* ---------------------------------------------------------------- tables */

static int32_t us_vocab_find(const us_bpe *t, const uint8_t *s, size_t len) {
    size_t i = (size_t)us_hash_bytes(s, len) & t->vocab_mask;
    for (;; i = (i + 1) & t->vocab_mask) {
        const us_vocab_slot *e = &t->vocab[i];
        if (e->id < 0) return -1;
        if (e->len == len && memcmp(t->bytes + e->off, s, len) == 0) return e->id;
    }
}

/* Inserts a token whose bytes are already in t->bytes at off. Returns the id
 * already holding the same bytes, or -1 when inserted. */
static int32_t us_vocab_insert(us_bpe *t, uint32_t off, uint32_t len, int32_t id) {
    size_t i = (size_t)us_hash_bytes(t->bytes + off, len) & t->vocab_mask;
    for (;; i = (i + 1) & t->vocab_mask) {
        us_vocab_slot *e = &t->vocab[i];
        if (e->id < 0) {
            e->off = off;
            e->len = len;
            e->id = id;
            return -1;
        }
        if (e->len == len && memcmp(t->bytes + e->off, t->bytes + off, len) == 0) return e->id;
    }
}

/* The rank of merging tokens a and b (their merged token in *new_id), or
 * US_NO_RANK. */
static inline int32_t us_pair_rank(const us_bpe *t, int32_t a, int32_t b, int32_t *new_id) {
    uint64_t key = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
    size_t i = (size_t)us_hash_pair(key) & t->merge_mask;
    for (;; i = (i + 1) & t->merge_mask) {
        const us_merge_slot *e = &t->merges[i];
        if (e->key == key) {
            *new_id = e->new_id;
            return e->rank;
        }
        if (e->key == US_EMPTY_KEY) return US_NO_RANK;
    }
}

/* ---------------------------------------------------------------- building */

/* An entry of tokenizer.json's added_tokens: content is raw UTF-8. */
typedef struct us_bpe_added {
    const us_json *content; /* borrowed STRING */
    int32_t id;
} us_bpe_added;

/* Why a merge could not be added. */
typedef enum us_merge_problem {
    US_MERGE_OK = 0,
    US_MERGE_LEFT_MISSING,
    US_MERGE_RIGHT_MISSING,
    US_MERGE_RESULT_MISSING,
    US_MERGE_OOM
} us_merge_problem;

void us_bpe_free(us_bpe *t) {
    if (!t) return;
    free(t->tok_off);
    free(t->tok_len);
    free(t->bytes);
    free(t->vocab);
    free(t->merges);
    free(t);
}

/* Creates a tokenizer from the vocabulary object `vocab` (keys in the byte
 * alphabet) and the added tokens, with room for n_merges merges. `label`
 * names the vocabulary in messages ("vocab.json"). A key outside the alphabet
 * is an error unless its id belongs to an added token (which then defines the
 * id's bytes). Returns owned or NULL with err set. */
static us_bpe *us_bpe_build(const us_json *vocab, const char *label, const us_bpe_added *added,
                            size_t n_added, size_t n_merges, us_error *err) {
    char q[96], q2[96];
    if (vocab->kind != US_JSON_OBJECT) {
        us_fail(err, US_ERR_FORMAT, "%s: expected an object of token -> id, found %s", label,
                us_json_kind_name(vocab->kind));
        return NULL;
    }
    uint8_t *is_added = NULL; /* (n_ids) 1 for the ids of added tokens */
    us_bpe *t = calloc(1, sizeof *t);
    if (!t) goto oom;
    t->use_regex = 1;

    /* Ids, and the size of everything. */
    size_t total = 0;
    int32_t max_id = -1;
    for (size_t i = 0; i < vocab->n; i++) {
        uint64_t id;
        const char *why = us_json_uint(&vocab->items[i], &id);
        if (!why && id > US_BPE_MAX_ID) why = "is larger than the limit of 2^24 - 1";
        if (why) {
            us_fail(err, US_ERR_FORMAT, "%s: the id of token %s (byte %zu) %s", label,
                    us_quote(vocab->keys[i].str, vocab->keys[i].str_len, q, sizeof q),
                    vocab->items[i].start, why);
            goto fail;
        }
        if ((int32_t)id > max_id) max_id = (int32_t)id;
        total += vocab->keys[i].str_len;
    }
    for (size_t k = 0; k < n_added; k++) {
        if (added[k].id > max_id) max_id = added[k].id;
        total += added[k].content->str_len;
    }
    if (total > UINT32_MAX) {
        us_fail(err, US_ERR_FORMAT, "%s: the tokens hold more than 4 GB", label);
        goto fail;
    }
    t->n_ids = max_id + 1;
    size_t nid = (size_t)t->n_ids;
    t->tok_off = calloc(nid ? nid : 1, sizeof *t->tok_off);
    t->tok_len = malloc((nid ? nid : 1) * sizeof *t->tok_len);
    t->bytes = malloc(total ? total : 1);
    t->vocab_mask = us_table_size(vocab->n) - 1;
    t->vocab = malloc((t->vocab_mask + 1) * sizeof *t->vocab);
    t->merge_mask = us_table_size(n_merges) - 1;
    t->merges = malloc((t->merge_mask + 1) * sizeof *t->merges);
    is_added = calloc(nid ? nid : 1, 1);
    if (!t->tok_off || !t->tok_len || !t->bytes || !t->vocab || !t->merges || !is_added) goto oom;
    for (size_t i = 0; i < nid; i++) t->tok_len[i] = -1;
    for (size_t i = 0; i <= t->vocab_mask; i++) t->vocab[i].id = -1;
    for (size_t i = 0; i <= t->merge_mask; i++) t->merges[i].key = US_EMPTY_KEY;

    /* Added tokens first: their ids may use characters outside the alphabet. */
    for (size_t k = 0; k < n_added; k++) {
        int32_t id = added[k].id;
        uint32_t off = (uint32_t)t->bytes_len, len = (uint32_t)added[k].content->str_len;
        if (t->tok_len[id] >= 0) {
            us_fail(err, US_ERR_FORMAT,
                    "tokenizer.json: added_tokens: id %d is given to both %s and %s", id,
                    us_quote(t->bytes + t->tok_off[id], (size_t)t->tok_len[id], q, sizeof q),
                    us_quote(added[k].content->str, len, q2, sizeof q2));
            goto fail;
        }
        memcpy(t->bytes + off, added[k].content->str, len);
        t->bytes_len += len;
        t->tok_off[id] = off;
        t->tok_len[id] = (int32_t)len;
        is_added[id] = 1;
    }

    /* The model's tokens. */
    for (size_t i = 0; i < vocab->n; i++) {
        const us_json *key = &vocab->keys[i];
        uint64_t id64;
        us_json_uint(&vocab->items[i], &id64);
        int32_t id = (int32_t)id64;
        uint32_t off = (uint32_t)t->bytes_len, bad = 0;
        long len = us_alphabet_decode((const uint8_t *)key->str, key->str_len, t->bytes + off, &bad);
        if (len < 0) {
            if (is_added[id]) continue; /* an added token's text, not a byte-level token */
            if (bad == US_UTF8_INVALID)
                us_fail(err, US_ERR_FORMAT, "%s: token %s (byte %zu) is not valid UTF-8", label,
                        us_quote(key->str, key->str_len, q, sizeof q), key->start);
            else
                us_fail(err, US_ERR_FORMAT,
                        "%s: token %s (byte %zu) has the character U+%04X, which is not in GPT-2's "
                        "byte-to-unicode alphabet", label,
                        us_quote(key->str, key->str_len, q, sizeof q), key->start, (unsigned)bad);
            goto fail;
        }
        if (len == 0) {
            us_fail(err, US_ERR_FORMAT, "%s: empty token (byte %zu)", label, key->start);
            goto fail;
        }
        if (t->tok_len[id] >= 0 && !is_added[id]) {
            us_fail(err, US_ERR_FORMAT, "%s: id %d is given to both %s and %s (byte %zu)", label, id,
                    us_quote(t->bytes + t->tok_off[id], (size_t)t->tok_len[id], q, sizeof q),
                    us_quote(key->str, key->str_len, q2, sizeof q2), key->start);
            goto fail;
        }
        int32_t dup = us_vocab_insert(t, off, (uint32_t)len, id);
        if (dup >= 0) {
            us_fail(err, US_ERR_FORMAT, "%s: token %s (byte %zu) is listed twice (ids %d and %d)",
                    label, us_quote(key->str, key->str_len, q, sizeof q), key->start, dup, id);
            goto fail;
        }
        t->bytes_len += (size_t)len;
        if (!is_added[id]) { /* an added token's content wins, as in HuggingFace */
            t->tok_off[id] = off;
            t->tok_len[id] = (int32_t)len;
        }
    }

    /* Every byte needs its one-byte token, or some texts could not be encoded. */
    for (int b = 0; b < 256; b++) {
        uint8_t c = (uint8_t)b;
        t->byte_id[b] = us_vocab_find(t, &c, 1);
        if (t->byte_id[b] < 0) {
            us_fail(err, US_ERR_FORMAT,
                    "%s: no token for the byte 0x%02x; a byte-level BPE vocabulary needs all 256 "
                    "one-byte tokens", label, b);
            goto fail;
        }
    }
    free(is_added);
    return t;
oom:
    us_fail(err, US_ERR_OOM, "%s: out of memory building the tokenizer", label);
fail:
    free(is_added);
    us_bpe_free(t);
    return NULL;
}

/* Adds the merge of the alphabet strings left and right (valid UTF-8) with
 * `rank`; a pair already present takes the new rank. scratch has room for
 * llen + rlen bytes. */
static us_merge_problem us_bpe_add_merge(us_bpe *t, const char *left, size_t llen,
                                         const char *right, size_t rlen, int32_t rank,
                                         uint8_t *scratch) {
    uint32_t bad;
    long l = us_alphabet_decode((const uint8_t *)left, llen, scratch, &bad);
    int32_t a = l > 0 ? us_vocab_find(t, scratch, (size_t)l) : -1;
    if (a < 0) return US_MERGE_LEFT_MISSING;
    long r = us_alphabet_decode((const uint8_t *)right, rlen, scratch + l, &bad);
    int32_t b = r > 0 ? us_vocab_find(t, scratch + l, (size_t)r) : -1;
    if (b < 0) return US_MERGE_RIGHT_MISSING;
    int32_t c = us_vocab_find(t, scratch, (size_t)(l + r));
    if (c < 0) return US_MERGE_RESULT_MISSING;
    if (t->n_merges + 1 > (t->merge_mask + 1) / 2) return US_MERGE_OOM; /* sized by the caller */
    uint64_t key = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
    size_t i = (size_t)us_hash_pair(key) & t->merge_mask;
    for (;; i = (i + 1) & t->merge_mask) {
        us_merge_slot *e = &t->merges[i];
        if (e->key == key) break;
        if (e->key == US_EMPTY_KEY) {
            e->key = key;
            t->n_merges++;
            break;
        }
    }
    t->merges[i].rank = rank;
    t->merges[i].new_id = c;
    return US_MERGE_OK;
}

/* A message for a failed merge at `where` ("merges.txt line 3"). */
static void us_merge_fail(us_error *err, us_merge_problem p, const char *where, const char *left,
                          size_t llen, const char *right, size_t rlen, const char *vocab_label) {
    char q[96], q2[96];
    switch (p) {
    case US_MERGE_LEFT_MISSING:
        us_fail(err, US_ERR_FORMAT, "%s: the left part %s is not a token of %s", where,
                us_quote(left, llen, q, sizeof q), vocab_label);
        break;
    case US_MERGE_RIGHT_MISSING:
        us_fail(err, US_ERR_FORMAT, "%s: the right part %s is not a token of %s", where,
                us_quote(right, rlen, q, sizeof q), vocab_label);
        break;
    case US_MERGE_RESULT_MISSING:
        us_fail(err, US_ERR_FORMAT, "%s: the merge of %s and %s is not a token of %s", where,
                us_quote(left, llen, q, sizeof q), us_quote(right, rlen, q2, sizeof q2),
                vocab_label);
        break;
    default:
        us_fail(err, US_ERR_OOM, "%s: out of memory", where);
        break;
    }
}

static us_bpe *us_json_fail(us_error *err, const char *label, us_status s,
                            const us_json_error *je) {
    if (s == US_ERR_OOM)
        us_fail(err, US_ERR_OOM, "%s: out of memory parsing JSON", label);
    else
        us_fail(err, US_ERR_FORMAT, "%s: invalid JSON at byte %zu: %s", label, je->offset, je->what);
    return NULL;
}

us_bpe *us_bpe_from_vocab_merges(const char *vocab_json, size_t vocab_len, const char *merges_txt,
                                 size_t merges_len, us_error *err) {
    if ((!vocab_json && vocab_len) || (!merges_txt && merges_len)) {
        us_fail(err, US_ERR_INVALID_ARG, "us_bpe_from_vocab_merges: NULL text with a length");
        return NULL;
    }
    size_t bad = us_utf8_invalid_at((const uint8_t *)merges_txt, merges_len);
    if (bad < merges_len) {
        size_t line = 1;
        for (size_t i = 0; i < bad; i++) line += merges_txt[i] == '\n';
        us_fail(err, US_ERR_FORMAT, "merges.txt line %zu: invalid UTF-8 at byte %zu", line, bad);
        return NULL;
    }
    us_json v;
    us_json_error je = {0};
    us_status s = us_json_parse(vocab_json, vocab_len, 4, &v, &je);
    if (s != US_OK) return us_json_fail(err, "vocab.json", s, &je);

    size_t n_lines = 1;
    for (size_t i = 0; i < merges_len; i++) n_lines += merges_txt[i] == '\n';
    if (n_lines >= (size_t)INT32_MAX) {
        us_json_free(&v);
        us_fail(err, US_ERR_FORMAT, "merges.txt: %zu lines is too many", n_lines);
        return NULL;
    }
    us_bpe *t = us_bpe_build(&v, "vocab.json", NULL, 0, n_lines, err);
    us_json_free(&v);
    if (!t) return NULL;

    /* One line at a time, as Rust's str::lines: "\n" or "\r\n" ends a line,
     * a final newline adds no empty line. The rank is the line's index. */
    uint8_t *scratch = malloc(merges_len ? merges_len : 1);
    if (!scratch) {
        us_fail(err, US_ERR_OOM, "merges.txt: out of memory");
        us_bpe_free(t);
        return NULL;
    }
    size_t pos = 0, line = 0;
    while (pos < merges_len) {
        const char *ln = merges_txt + pos;
        const char *nl = memchr(ln, '\n', merges_len - pos);
        size_t len = nl ? (size_t)(nl - ln) : merges_len - pos;
        pos += len + (nl != NULL);
        line++;
        if (len && ln[len - 1] == '\r') len--;
        if (len >= 8 && memcmp(ln, "#version", 8) == 0) continue;
        const char *sp = memchr(ln, ' ', len);
        const char *sp2 = sp ? memchr(sp + 1, ' ', len - (size_t)(sp + 1 - ln)) : NULL;
        if (!sp || sp2) {
            size_t parts = 1;
            for (size_t i = 0; i < len; i++) parts += ln[i] == ' ';
            char q[96];
            us_fail(err, US_ERR_FORMAT,
                    "merges.txt line %zu: expected two tokens separated by one space, found %zu "
                    "part%s in %s", line, parts, parts == 1 ? "" : "s", us_quote(ln, len, q, sizeof q));
            goto fail;
        }
        size_t llen = (size_t)(sp - ln), rlen = len - llen - 1;
        us_merge_problem p = us_bpe_add_merge(t, ln, llen, sp + 1, rlen, (int32_t)line, scratch);
        if (p != US_MERGE_OK) {
            char where[48];
            snprintf(where, sizeof where, "merges.txt line %zu", line);
            us_merge_fail(err, p, where, ln, llen, sp + 1, rlen, "vocab.json");
            goto fail;
        }
    }
    free(scratch);
    return t;
fail:
    free(scratch);
    us_bpe_free(t);
    return NULL;
}

/* ---------------------------------------------------------------- tokenizer.json */

static const us_json *us_member(const us_json *obj, const char *name) {
    if (!obj || obj->kind != US_JSON_OBJECT) return NULL;
    size_t nl = strlen(name);
    for (size_t i = 0; i < obj->n; i++)
        if (obj->keys[i].str_len == nl && memcmp(obj->keys[i].str, name, nl) == 0)
            return &obj->items[i];
    return NULL;
}

static int us_is_null(const us_json *v) { return !v || v->kind == US_JSON_NULL; }

static int us_is_str(const us_json *v, const char *s) {
    return v && v->kind == US_JSON_STRING && v->str_len == strlen(s) &&
           memcmp(v->str, s, v->str_len) == 0;
}

/* The "type" of a component, quoted for messages. */
static const char *us_type_name(const us_json *v, char *buf, size_t cap) {
    const us_json *ty = us_member(v, "type");
    if (ty && ty->kind == US_JSON_STRING) return us_quote(ty->str, ty->str_len, buf, cap);
    snprintf(buf, cap, "(%s without a type)", v ? us_json_kind_name(v->kind) : "missing");
    return buf;
}

/* Reads a boolean member (absent: dflt). Returns 0 on a non-boolean. */
static int us_get_bool(const us_json *obj, const char *name, int dflt, int *out) {
    const us_json *v = us_member(obj, name);
    if (!v) {
        *out = dflt;
        return 1;
    }
    if (v->kind != US_JSON_TRUE && v->kind != US_JSON_FALSE) return 0;
    *out = v->kind == US_JSON_TRUE;
    return 1;
}

/* Checks pre_tokenizer, normalizer, decoder and post_processor, and reads the
 * ByteLevel options. */
static us_status us_check_pipeline(const us_json *root, int *add_prefix_space, int *use_regex,
                                   us_error *err) {
    char q[96];
    const us_json *norm = us_member(root, "normalizer");
    if (!us_is_null(norm))
        return us_fail(err, US_ERR_FORMAT,
                       "tokenizer.json: normalizer %s is not supported (only null: GPT-2 normalizes "
                       "nothing)", us_type_name(norm, q, sizeof q));

    const us_json *pre = us_member(root, "pre_tokenizer");
    const us_json *bl = NULL;
    if (us_is_str(us_member(pre, "type"), "ByteLevel")) {
        bl = pre;
    } else if (us_is_str(us_member(pre, "type"), "Sequence")) {
        const us_json *list = us_member(pre, "pretokenizers");
        if (list && list->kind == US_JSON_ARRAY) {
            for (size_t i = 0; i < list->n; i++) {
                if (!us_is_str(us_member(&list->items[i], "type"), "ByteLevel"))
                    return us_fail(err, US_ERR_FORMAT,
                                   "tokenizer.json: pre_tokenizer.pretokenizers[%zu] is %s; only "
                                   "ByteLevel is supported", i,
                                   us_type_name(&list->items[i], q, sizeof q));
                if (bl)
                    return us_fail(err, US_ERR_FORMAT,
                                   "tokenizer.json: pre_tokenizer has ByteLevel twice; only one "
                                   "is supported");
                bl = &list->items[i];
            }
        }
        if (!bl)
            return us_fail(err, US_ERR_FORMAT,
                           "tokenizer.json: pre_tokenizer is a Sequence without ByteLevel");
    } else {
        return us_fail(err, US_ERR_FORMAT,
                       "tokenizer.json: pre_tokenizer is %s; only ByteLevel (alone or in a "
                       "Sequence) is supported",
                       us_is_null(pre) ? "null" : us_type_name(pre, q, sizeof q));
    }
    if (!us_get_bool(bl, "add_prefix_space", 1, add_prefix_space))
        return us_fail(err, US_ERR_FORMAT,
                       "tokenizer.json: ByteLevel add_prefix_space is not a boolean");
    if (!us_get_bool(bl, "use_regex", 1, use_regex))
        return us_fail(err, US_ERR_FORMAT, "tokenizer.json: ByteLevel use_regex is not a boolean");

    const us_json *dec = us_member(root, "decoder");
    if (!us_is_null(dec) && !us_is_str(us_member(dec, "type"), "ByteLevel"))
        return us_fail(err, US_ERR_FORMAT,
                       "tokenizer.json: decoder %s is not supported (only null or ByteLevel)",
                       us_type_name(dec, q, sizeof q));
    const us_json *post = us_member(root, "post_processor");
    if (!us_is_null(post) && !us_is_str(us_member(post, "type"), "ByteLevel"))
        return us_fail(err, US_ERR_FORMAT,
                       "tokenizer.json: post_processor %s is not supported (only null or "
                       "ByteLevel: encoding adds no special tokens)", us_type_name(post, q, sizeof q));
    return US_OK;
}

/* Checks the BPE options we cannot honour. */
static us_status us_check_model(const us_json *model, int *ignore_merges, us_error *err) {
    char q[96];
    if (!model || model->kind != US_JSON_OBJECT)
        return us_fail(err, US_ERR_FORMAT, "tokenizer.json: no \"model\" object");
    const us_json *ty = us_member(model, "type");
    if (!us_is_str(ty, "BPE"))
        return us_fail(err, US_ERR_FORMAT,
                       "tokenizer.json: model.type is %s; only \"BPE\" is supported",
                       ty && ty->kind == US_JSON_STRING ? us_quote(ty->str, ty->str_len, q, sizeof q)
                                                        : "missing");
    const us_json *drop = us_member(model, "dropout");
    int drop_zero = drop && drop->kind == US_JSON_NUMBER;
    for (size_t i = 0; drop_zero && i < drop->end - drop->start; i++) {
        char c = drop->raw[i];
        if (c == 'e' || c == 'E') break;
        if (c >= '1' && c <= '9') drop_zero = 0;
    }
    if (!us_is_null(drop) && !drop_zero)
        return us_fail(err, US_ERR_FORMAT,
                       "tokenizer.json: model.dropout is set; BPE dropout is random and not supported");
    static const char *const affixes[] = {"continuing_subword_prefix", "end_of_word_suffix"};
    for (size_t k = 0; k < 2; k++) {
        const us_json *a = us_member(model, affixes[k]);
        if (!us_is_null(a) && !us_is_str(a, ""))
            return us_fail(err, US_ERR_FORMAT, "tokenizer.json: model.%s is set; not supported",
                           affixes[k]);
    }
    if (!us_get_bool(model, "ignore_merges", 0, ignore_merges))
        return us_fail(err, US_ERR_FORMAT, "tokenizer.json: model.ignore_merges is not a boolean");
    return US_OK;
}

us_bpe *us_bpe_from_tokenizer_json(const char *json, size_t len, us_error *err) {
    if (!json && len) {
        us_fail(err, US_ERR_INVALID_ARG, "us_bpe_from_tokenizer_json: NULL text with a length");
        return NULL;
    }
    us_json root;
    us_json_error je = {0};
    us_status s = us_json_parse(json, len, 64, &root, &je);
    if (s != US_OK) return us_json_fail(err, "tokenizer.json", s, &je);
    us_bpe *t = NULL;
    us_bpe_added *added = NULL;
    uint8_t *scratch = NULL;
    int add_prefix_space = 0, use_regex = 1, ignore_merges = 0;
    if (root.kind != US_JSON_OBJECT) {
        us_fail(err, US_ERR_FORMAT, "tokenizer.json: expected an object, found %s",
                us_json_kind_name(root.kind));
        goto done;
    }
    const us_json *model = us_member(&root, "model");
    if (us_check_model(model, &ignore_merges, err) != US_OK) goto done;
    if (us_check_pipeline(&root, &add_prefix_space, &use_regex, err) != US_OK) goto done;
    const us_json *vocab = us_member(model, "vocab");
    const us_json *merges = us_member(model, "merges");
    if (!vocab) {
        us_fail(err, US_ERR_FORMAT, "tokenizer.json: model.vocab is missing");
        goto done;
    }
    if (!merges || merges->kind != US_JSON_ARRAY) {
        us_fail(err, US_ERR_FORMAT, "tokenizer.json: model.merges is %s; expected an array",
                merges ? us_json_kind_name(merges->kind) : "missing");
        goto done;
    }

    /* added_tokens: [{"id": 50256, "content": "<|endoftext|>", ...}, ...] */
    const us_json *at = us_member(&root, "added_tokens");
    size_t n_added = 0;
    if (!us_is_null(at)) {
        if (at->kind != US_JSON_ARRAY) {
            us_fail(err, US_ERR_FORMAT, "tokenizer.json: added_tokens is %s; expected an array",
                    us_json_kind_name(at->kind));
            goto done;
        }
        added = malloc((at->n ? at->n : 1) * sizeof *added);
        if (!added) {
            us_fail(err, US_ERR_OOM, "tokenizer.json: out of memory");
            goto done;
        }
        for (size_t i = 0; i < at->n; i++) {
            const us_json *id = us_member(&at->items[i], "id");
            const us_json *content = us_member(&at->items[i], "content");
            uint64_t v = 0;
            const char *why = id ? us_json_uint(id, &v) : "is missing";
            if (!why && v > US_BPE_MAX_ID) why = "is larger than the limit of 2^24 - 1";
            const char *what = "the id";
            if (!why && (!content || content->kind != US_JSON_STRING || content->str_len == 0)) {
                what = "the content";
                why = "is not a non-empty string";
            }
            if (why) {
                us_fail(err, US_ERR_FORMAT, "tokenizer.json: added_tokens[%zu] (byte %zu): %s %s", i,
                        at->items[i].start, what, why);
                goto done;
            }
            added[n_added].id = (int32_t)v;
            added[n_added].content = content;
            n_added++;
        }
    }

    t = us_bpe_build(vocab, "tokenizer.json: model.vocab", added, n_added, merges->n, err);
    if (!t) goto done;
    t->add_prefix_space = add_prefix_space;
    t->use_regex = use_regex;
    t->ignore_merges = ignore_merges;

    size_t longest = 1;
    for (size_t i = 0; i < merges->n; i++) {
        size_t l = merges->items[i].end - merges->items[i].start; /* >= the unescaped text */
        if (l > longest) longest = l;
    }
    scratch = malloc(longest);
    if (!scratch) {
        us_fail(err, US_ERR_OOM, "tokenizer.json: out of memory");
        goto fail;
    }
    for (size_t i = 0; i < merges->n; i++) {
        const us_json *m = &merges->items[i];
        const char *l = NULL, *r = NULL;
        size_t llen = 0, rlen = 0;
        if (m->kind == US_JSON_STRING) { /* "left right" */
            const char *sp = memchr(m->str, ' ', m->str_len);
            if (sp && !memchr(sp + 1, ' ', m->str_len - (size_t)(sp + 1 - m->str))) {
                l = m->str;
                llen = (size_t)(sp - m->str);
                r = sp + 1;
                rlen = m->str_len - llen - 1;
            }
        } else if (m->kind == US_JSON_ARRAY && m->n == 2 && m->items[0].kind == US_JSON_STRING &&
                   m->items[1].kind == US_JSON_STRING) { /* ["left", "right"] */
            l = m->items[0].str;
            llen = m->items[0].str_len;
            r = m->items[1].str;
            rlen = m->items[1].str_len;
        }
        if (!l) {
            us_fail(err, US_ERR_FORMAT,
                    "tokenizer.json: model.merges[%zu] (byte %zu) is not \"left right\" or "
                    "[\"left\", \"right\"]", i, m->start);
            goto fail;
        }
        us_merge_problem p = us_bpe_add_merge(t, l, llen, r, rlen, (int32_t)i, scratch);
        if (p != US_MERGE_OK) {
            char where[96];
            snprintf(where, sizeof where, "tokenizer.json: model.merges[%zu] (byte %zu)", i,
                     m->start);
            us_merge_fail(err, p, where, l, llen, r, rlen, "model.vocab");
            goto fail;
        }
    }
    goto done;
fail:
    us_bpe_free(t);
    t = NULL;
done:
    free(scratch);
    free(added);
    us_json_free(&root);
    return t;
}

/* ---------------------------------------------------------------- queries */

int32_t us_bpe_vocab_size(const us_bpe *t) { return t ? t->n_ids : 0; }

const uint8_t *us_bpe_token_bytes(const us_bpe *t, int32_t id, size_t *len) {
    if (len) *len = 0;
    if (!t || id < 0 || id >= t->n_ids || t->tok_len[id] < 0) return NULL;
    if (len) *len = (size_t)t->tok_len[id];
    return t->bytes + t->tok_off[id];
}

us_status us_bpe_decode(const us_bpe *t, const int32_t *ids, size_t n, uint8_t **out,
                        size_t *out_len, us_error *err) {
    if (out) *out = NULL;
    if (out_len) *out_len = 0;
    if (!t || !out || !out_len || (!ids && n))
        return us_fail(err, US_ERR_INVALID_ARG, "us_bpe_decode: NULL argument");
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t id = ids[i];
        if (id < 0 || id >= t->n_ids || t->tok_len[id] < 0)
            return us_fail(err, US_ERR_RANGE,
                           "token id %d at position %zu is outside the vocabulary%s (ids 0..%d)", id, i,
                           id >= 0 && id < t->n_ids ? " (no token has it)" : "", t->n_ids - 1);
        if (total + (size_t)t->tok_len[id] < total)
            return us_fail(err, US_ERR_OOM, "us_bpe_decode: the text would exceed memory");
        total += (size_t)t->tok_len[id];
    }
    uint8_t *buf = malloc(total + 1);
    if (!buf) return us_fail(err, US_ERR_OOM, "us_bpe_decode: out of memory for %zu bytes", total);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(buf + k, t->bytes + t->tok_off[ids[i]], (size_t)t->tok_len[ids[i]]);
        k += (size_t)t->tok_len[ids[i]];
    }
    buf[k] = '\0';
    *out = buf;
    *out_len = k;
    return US_OK;
}

/* ---------------------------------------------------------------- encoding */

/* A candidate merge for the heap: the pair starting at symbol `pos`. */
typedef struct us_bpe_cand {
    int32_t rank;
    int32_t pos;
} us_bpe_cand;

/* Scratch memory of one encode call, grown to the longest piece. */
typedef struct us_bpe_work {
    size_t cap;      /* positions each array holds */
    int32_t *sym;    /* (cap) the token at each position */
    int32_t *rank;   /* (cap) scan: rank of the pair (k, k + 1) */
    int32_t *merged; /* (cap) scan: its merged token */
    int32_t *prev;   /* (cap) heap: linked list of live positions */
    int32_t *next;   /* (cap) */
    us_bpe_cand *heap; /* (3 * cap) */
} us_bpe_work;

static void us_work_free(us_bpe_work *w) {
    free(w->sym);
    free(w->rank);
    free(w->merged);
    free(w->prev);
    free(w->next);
    free(w->heap);
    memset(w, 0, sizeof *w);
}

static int us_work_reserve(us_bpe_work *w, size_t n) {
    if (n <= w->cap) return 1;
    size_t cap = w->cap * 2 > n ? w->cap * 2 : n;
    if (cap < 64) cap = 64;
    us_work_free(w);
    w->sym = malloc(cap * sizeof *w->sym);
    w->rank = malloc(cap * sizeof *w->rank);
    w->merged = malloc(cap * sizeof *w->merged);
    w->prev = malloc(cap * sizeof *w->prev);
    w->next = malloc(cap * sizeof *w->next);
    w->heap = malloc(3 * cap * sizeof *w->heap);
    if (!w->sym || !w->rank || !w->merged || !w->prev || !w->next || !w->heap) {
        us_work_free(w);
        return 0;
    }
    w->cap = cap;
    return 1;
}

/* Merges sym[0, m) in place by rescanning for the best pair; returns the new
 * count. O(m^2), but with tiny constants for the short pieces of real text. */
static size_t us_merge_scan(const us_bpe *t, int32_t *sym, int32_t *rank, int32_t *merged,
                            size_t m) {
    for (size_t k = 0; k + 1 < m; k++) rank[k] = us_pair_rank(t, sym[k], sym[k + 1], &merged[k]);
    while (m > 1) {
        size_t best = 0;
        int32_t br = US_NO_RANK;
        for (size_t k = 0; k + 1 < m; k++) {
            if (rank[k] < br) {
                br = rank[k];
                best = k;
            }
        }
        if (br == US_NO_RANK) break;
        sym[best] = merged[best];
        /* drop symbol best + 1 and the pair that started at it */
        memmove(sym + best + 1, sym + best + 2, (m - best - 2) * sizeof *sym);
        if (best + 3 <= m) {
            memmove(rank + best + 1, rank + best + 2, (m - best - 3) * sizeof *rank);
            memmove(merged + best + 1, merged + best + 2, (m - best - 3) * sizeof *merged);
        }
        m--;
        if (best + 1 < m) rank[best] = us_pair_rank(t, sym[best], sym[best + 1], &merged[best]);
        if (best > 0) rank[best - 1] = us_pair_rank(t, sym[best - 1], sym[best], &merged[best - 1]);
    }
    return m;
}

static inline int us_cand_less(us_bpe_cand a, us_bpe_cand b) {
    return a.rank < b.rank || (a.rank == b.rank && a.pos < b.pos);
}

static void us_heap_push(us_bpe_cand *h, size_t *n, us_bpe_cand c) {
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!us_cand_less(c, h[p])) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = c;
}

static us_bpe_cand us_heap_pop(us_bpe_cand *h, size_t *n) {
    us_bpe_cand top = h[0], last = h[--(*n)];
    size_t i = 0, cnt = *n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= cnt) break;
        if (c + 1 < cnt && us_cand_less(h[c + 1], h[c])) c++;
        if (!us_cand_less(h[c], last)) break;
        h[i] = h[c];
        i = c;
    }
    if (cnt) h[i] = last;
    return top;
}

/* Merges sym[0, m) with a heap of candidate pairs ordered by (rank, position):
 * the same order as the scan, in O(m log m). Entries go stale when a
 * neighbour merges; a popped entry is applied only if its pair still has
 * its rank. Returns the new count, the survivors compacted to sym[0, ...). */
static size_t us_merge_heap(const us_bpe *t, us_bpe_work *w, size_t m) {
    int32_t *sym = w->sym, *prev = w->prev, *next = w->next, nid;
    us_bpe_cand *heap = w->heap;
    size_t hn = 0;
    for (size_t k = 0; k < m; k++) {
        prev[k] = (int32_t)k - 1;
        next[k] = k + 1 < m ? (int32_t)k + 1 : -1;
    }
    for (size_t k = 0; k + 1 < m; k++) {
        int32_t r = us_pair_rank(t, sym[k], sym[k + 1], &nid);
        if (r != US_NO_RANK) us_heap_push(heap, &hn, (us_bpe_cand){r, (int32_t)k});
    }
    while (hn) {
        us_bpe_cand c = us_heap_pop(heap, &hn);
        int32_t p = c.pos, q = next[p];
        if (sym[p] < 0 || q < 0) continue;
        if (us_pair_rank(t, sym[p], sym[q], &nid) != c.rank) continue; /* stale */
        sym[p] = nid;
        sym[q] = -1;
        next[p] = next[q];
        if (next[q] >= 0) prev[next[q]] = p;
        int32_t r;
        if (prev[p] >= 0 && (r = us_pair_rank(t, sym[prev[p]], sym[p], &nid)) != US_NO_RANK)
            us_heap_push(heap, &hn, (us_bpe_cand){r, prev[p]});
        if (next[p] >= 0 && (r = us_pair_rank(t, sym[p], sym[next[p]], &nid)) != US_NO_RANK)
            us_heap_push(heap, &hn, (us_bpe_cand){r, p});
    }
    size_t n = 0;
    for (int32_t k = 0; k >= 0; k = next[k]) sym[n++] = sym[k];
    return n;
}

us_status us_bpe_encode_with(const us_bpe *t, const uint8_t *text, size_t len,
                             us_bpe_merge_loop loop, int32_t **ids, size_t *n_ids, us_error *err) {
    if (ids) *ids = NULL;
    if (n_ids) *n_ids = 0;
    if (!t || !ids || !n_ids || (!text && len))
        return us_fail(err, US_ERR_INVALID_ARG, "us_bpe_encode: NULL argument");
    if (len > (size_t)INT32_MAX)
        return us_fail(err, US_ERR_INVALID_ARG, "us_bpe_encode: %zu bytes is more than 2^31 - 1",
                       len);
    uint8_t *prefixed = NULL;
    if (t->add_prefix_space && len > 0 && text[0] != ' ') {
        prefixed = malloc(len + 1);
        if (!prefixed) return us_fail(err, US_ERR_OOM, "us_bpe_encode: out of memory");
        prefixed[0] = ' ';
        memcpy(prefixed + 1, text, len);
        text = prefixed;
        len++;
    }
    size_t cap = len / 4 + 16, n = 0;
    int32_t *out = malloc(cap * sizeof *out);
    us_bpe_work w = {0};
    if (!out) goto oom;
    for (size_t i = 0; i < len;) {
        size_t end = t->use_regex ? us_gpt2_piece_end(text, len, i) : len;
        const uint8_t *piece = text + i;
        size_t m = end - i;
        i = end;
        if (n + m > cap) { /* a piece never yields more ids than bytes */
            size_t nc = cap * 2 > n + m ? cap * 2 : n + m;
            int32_t *grown = realloc(out, nc * sizeof *out);
            if (!grown) goto oom;
            out = grown;
            cap = nc;
        }
        if (m == 1) {
            out[n++] = t->byte_id[piece[0]];
            continue;
        }
        if (t->ignore_merges) {
            int32_t id = us_vocab_find(t, piece, m);
            if (id >= 0) {
                out[n++] = id;
                continue;
            }
        }
        int use_scan =
            loop == US_BPE_LOOP_SCAN || (loop == US_BPE_LOOP_AUTO && m <= US_BPE_SCAN_MAX);
        if (!us_work_reserve(&w, m)) goto oom;
        for (size_t k = 0; k < m; k++) w.sym[k] = t->byte_id[piece[k]];
        size_t k = use_scan ? us_merge_scan(t, w.sym, w.rank, w.merged, m) : us_merge_heap(t, &w, m);
        memcpy(out + n, w.sym, k * sizeof *out);
        n += k;
    }
    us_work_free(&w);
    free(prefixed);
    *ids = out;
    *n_ids = n;
    return US_OK;
oom:
    us_work_free(&w);
    free(prefixed);
    free(out);
    return us_fail(err, US_ERR_OOM, "us_bpe_encode: out of memory encoding %zu bytes", len);
}

us_status us_bpe_encode(const us_bpe *t, const uint8_t *text, size_t len, int32_t **ids,
                        size_t *n_ids, us_error *err) {
    return us_bpe_encode_with(t, text, len, US_BPE_LOOP_AUTO, ids, n_ids, err);
}
