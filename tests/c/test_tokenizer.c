/* test_tokenizer.c — the byte-level BPE tokenizer (src/tokenizer).
 *
 * Everything is built in memory, so the tests also run as standalone wasm:
 * a tiny vocabulary (the 256 one-byte tokens, written in GPT-2's
 * byte-to-unicode alphabet by an independent implementation of it, plus the
 * results of a few merges) checks merge order, ties, byte fallback and
 * decoding; the pre-tokenizer is checked piece by piece against what
 * js-tiktoken's GPT-2 regex produces; malformed files must fail with a
 * message naming the file, line or offset; odd inputs (invalid UTF-8, empty
 * text, a 100 KB run of one character) must encode quickly and round-trip.
 * Equality with js-tiktoken on the real GPT-2 vocabulary is checked by
 * tests/js/tokenizer.test.js. */
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "tokenizer/bpe.h"
#include "tokenizer/bpe_internal.h"
#include "tokenizer/pretokenize.h"

/* ---------------------------------------------------------------- text building */

typedef struct sb {
    char *p; /* owned, NUL-terminated */
    size_t n, cap;
} sb;

static void sb_put(sb *b, const void *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t cap = (b->n + n + 1) * 2;
        char *p = realloc(b->p, cap);
        if (!p) abort();
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void sb_puts(sb *b, const char *s) { sb_put(b, s, strlen(s)); }

static void sb_printf(sb *b, const char *fmt, ...) {
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    sb_put(b, tmp, (size_t)n);
}

/* GPT-2's bytes_to_unicode(), written as in its encoder.py: printable bytes
 * stand for themselves, the rest take U+0100 upwards in byte order. */
static uint32_t byte_char(uint8_t byte) {
    uint32_t n = 0;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
        if (b == byte) return printable ? (uint32_t)b : 256 + n;
        if (!printable) n++;
    }
    return 0;
}

/* Appends bytes s[0, n) in the byte alphabet, JSON-escaped if `json`. */
static void sb_alpha(sb *b, const char *s, size_t n, int json) {
    for (size_t i = 0; i < n; i++) {
        uint32_t cp = byte_char((uint8_t)s[i]);
        if (json && (cp == '"' || cp == '\\')) sb_put(b, "\\", 1);
        char u[2];
        if (cp < 0x80) {
            u[0] = (char)cp;
            sb_put(b, u, 1);
        } else {
            u[0] = (char)(0xc0 | (cp >> 6));
            u[1] = (char)(0x80 | (cp & 0x3f));
            sb_put(b, u, 2);
        }
    }
}

/* The members of a vocab.json object giving byte b the id b (no braces). */
static void sb_byte_tokens(sb *b) {
    for (int i = 0; i < 256; i++) {
        char c = (char)i;
        sb_put(b, i ? ",\"" : "\"", i ? 2 : 1);
        sb_alpha(b, &c, 1, 1);
        sb_printf(b, "\":%d", i);
    }
}

/* A merge: two byte strings. */
typedef struct merge {
    const char *l, *r;
} merge;

/* vocab.json (bytes, then each merge's result as ids 256, 257, ...) and
 * merges.txt for the merges in order. Both owned by the caller. */
static void tiny_files(const merge *m, size_t n, sb *vocab, sb *merges) {
    *vocab = (sb){0};
    *merges = (sb){0};
    sb_put(vocab, "{", 1);
    sb_byte_tokens(vocab);
    sb_put(merges, "#version: 0.2\n", 14);
    for (size_t k = 0; k < n; k++) {
        sb_put(vocab, ",\"", 2);
        sb_alpha(vocab, m[k].l, strlen(m[k].l), 1);
        sb_alpha(vocab, m[k].r, strlen(m[k].r), 1);
        sb_printf(vocab, "\":%zu", 256 + k);
        sb_alpha(merges, m[k].l, strlen(m[k].l), 0);
        sb_put(merges, " ", 1);
        sb_alpha(merges, m[k].r, strlen(m[k].r), 0);
        sb_put(merges, "\n", 1);
    }
    sb_put(vocab, "}", 1);
}

static us_bpe *tiny_bpe(const merge *m, size_t n) {
    sb v, mg;
    tiny_files(m, n, &v, &mg);
    us_error err = {0};
    us_bpe *t = us_bpe_from_vocab_merges(v.p, v.n, mg.p, mg.n, &err);
    if (!t) fprintf(stderr, "  tiny_bpe: %s\n", err.message);
    free(v.p);
    free(mg.p);
    return t;
}

/* The tiny model most tests use. Ids: bytes 0..255, then 256 + index. */
static const merge tiny_merges[] = {
    {"a", "b"},      /* 256 ab */
    {"ab", "c"},     /* 257 abc */
    {"b", "c"},      /* 258 bc: ranks below a+b, so "abc" never uses it */
    {" ", "t"},      /* 259 " t" */
    {"h", "e"},      /* 260 he */
    {" t", "he"},    /* 261 " the" */
    {"a", "a"},      /* 262 aa */
    {"aa", "aa"},    /* 263 aaaa */
    {"\xc3", "\xa9"}, /* 264 é */
    {"'", "s"},      /* 265 's */
    {" ", " "},      /* 266 two spaces */
};
#define N_TINY (sizeof tiny_merges / sizeof tiny_merges[0])

/* Encodes the NUL-terminated s and checks the ids equal want[0, n). */
static int encodes_to(const us_bpe *t, const char *s, const int32_t *want, size_t n) {
    int32_t *ids = NULL;
    size_t got = 0;
    us_error err = {0};
    if (us_bpe_encode(t, (const uint8_t *)s, strlen(s), &ids, &got, &err) != US_OK) {
        fprintf(stderr, "  encode(\"%s\") failed: %s\n", s, err.message);
        return 0;
    }
    int ok = got == n && (n == 0 || memcmp(ids, want, n * sizeof *ids) == 0);
    if (!ok) {
        fprintf(stderr, "  encode(\"%s\") = [", s);
        for (size_t i = 0; i < got; i++) fprintf(stderr, "%s%d", i ? ", " : "", ids[i]);
        fprintf(stderr, "], want [");
        for (size_t i = 0; i < n; i++) fprintf(stderr, "%s%d", i ? ", " : "", want[i]);
        fprintf(stderr, "]\n");
    }
    free(ids);
    return ok;
}
#define ENCODES(t, s, ...)                                                     \
    do {                                                                       \
        const int32_t want_[] = {__VA_ARGS__};                                 \
        CHECK(encodes_to(t, s, want_, sizeof want_ / sizeof want_[0]));        \
    } while (0)

/* decode(encode(s[0, n))) == s[0, n), with the scan and the heap agreeing. */
static int round_trips(const us_bpe *t, const uint8_t *s, size_t n) {
    int32_t *a = NULL, *b = NULL;
    size_t na = 0, nb = 0, nout = 0;
    uint8_t *out = NULL;
    us_error err = {0};
    int ok = us_bpe_encode_with(t, s, n, US_BPE_LOOP_SCAN, &a, &na, &err) == US_OK &&
             us_bpe_encode_with(t, s, n, US_BPE_LOOP_HEAP, &b, &nb, &err) == US_OK && na == nb &&
             (na == 0 || memcmp(a, b, na * sizeof *a) == 0) &&
             us_bpe_decode(t, a, na, &out, &nout, &err) == US_OK && nout == n &&
             (n == 0 || memcmp(out, s, n) == 0);
    free(a);
    free(b);
    free(out);
    return ok;
}

/* ---------------------------------------------------------------- pre-tokenizer */

/* Splits s into pieces and joins them with '|' (s must not contain '|'). */
static void pieces(const char *s, char *out, size_t cap) {
    size_t len = strlen(s), n = 0;
    for (size_t i = 0; i < len;) {
        size_t e = us_gpt2_piece_end((const uint8_t *)s, len, i);
        if (e <= i || e > len) {
            snprintf(out, cap, "<bad end %zu at %zu>", e, i);
            return;
        }
        if (i && n + 1 < cap) out[n++] = '|';
        for (size_t k = i; k < e && n + 1 < cap; k++) out[n++] = s[k];
        i = e;
    }
    out[n] = '\0';
}

static void test_pretokenizer(void) {
    /* Expected splits: what js-tiktoken's GPT-2 regex gives. */
    static const char *const cases[][2] = {
        {"Hello world", "Hello| world"},
        {"Hello, world!", "Hello|,| world|!"},
        {"don't", "don|'t"},
        {"I'LL we'll they're I've I'm he'd it's", "I|'|LL| we|'ll| they|'re| I|'ve| I|'m| he|'d| it|'s"},
        {"'s'", "'s|'"},
        {"''s", "''|s"},
        {"!'s", "!'|s"},
        {" 's", " '|s"},
        {"  hi", " | hi"},
        {"a  \n\nb", "a|  \n|\n|b"},
        {"x   ", "x|   "},
        {"x \t y", "x| \t| y"},
        {"x\t\ty", "x|\t|\t|y"},              /* only U+0020 joins a word */
        {"\n", "\n"},
        {" ", " "},
        {"\r\n\r\nz", "\r\n\r|\n|z"},
        {"1234 56 7x", "1234| 56| 7|x"},
        {"x!!! y?", "x|!!!| y|?"},
        {" !?", " !?"},
        {"a\xc2\xa0" "b", "a|\xc2\xa0|b"},                     /* NBSP is \s */
        {"a\xe3\x80\x80\xe3\x80\x80" "b", "a|\xe3\x80\x80|\xe3\x80\x80|b"}, /* U+3000 twice */
        {"a \xc2\x85" "b", "a| \xc2\x85|b"},                  /* U+0085 is not JS \s */
        {"\xef\xbb\xbf" "x", "\xef\xbb\xbf|x"},                /* U+FEFF is JS \s */
        {"caf\xc3\xa9 na\xc3\xafve", "caf\xc3\xa9| na\xc3\xafve"},
        {"e\xcc\x81t\xc3\xa9", "e|\xcc\x81|t\xc3\xa9"},        /* U+0301 is a mark: "other" */
        {"\xc2\xbc\xe2\x85\xab\xc2\xb2x", "\xc2\xbc\xe2\x85\xab\xc2\xb2|x"}, /* ¼ Ⅻ ² are \p{N} */
        {"\xd9\xa3\xd9\xa4 \xd8\xb3\xd9\x84\xd8\xa7\xd9\x85", "\xd9\xa3\xd9\xa4| \xd8\xb3\xd9\x84\xd8\xa7\xd9\x85"},
        {"\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9 hi", "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9| hi"},
        {"\xe4\xbd\xa0\xe5\xa5\xbd\xef\xbc\x8c\xe4\xb8\x96", "\xe4\xbd\xa0\xe5\xa5\xbd|\xef\xbc\x8c|\xe4\xb8\x96"},
        /* invalid UTF-8: each bad byte is one "other" character */
        {"\xff\xfe" "ab", "\xff\xfe|ab"},
        {" \xff" "a", " \xff|a"},
        {"a\xc3", "a|\xc3"},
        {"\xe2\x82" "x", "\xe2\x82|x"},
        {"\xed\xa0\x80!", "\xed\xa0\x80!"},                    /* a surrogate: three bad bytes */
        {"\xc0\xaf" "1", "\xc0\xaf|1"},                        /* overlong '/' */
    };
    char got[256];
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        pieces(cases[k][0], got, sizeof got);
        if (strcmp(got, cases[k][1]) != 0) {
            fprintf(stderr, "  pieces of case %zu: got \"%s\", want \"%s\"\n", k, got, cases[k][1]);
            us_h_cur_failed = 1;
        }
    }
}

static void test_unicode_classes(void) {
    CHECK(us_uc_class_of('a') == US_UC_LETTER);
    CHECK(us_uc_class_of('Z') == US_UC_LETTER);
    CHECK(us_uc_class_of('7') == US_UC_NUMBER);
    CHECK(us_uc_class_of('_') == US_UC_OTHER);
    CHECK(us_uc_class_of(' ') == US_UC_SPACE);
    CHECK(us_uc_class_of(0x0b) == US_UC_SPACE);   /* \v */
    CHECK(us_uc_class_of(0x1c) == US_UC_OTHER);   /* JS \s excludes the file separators */
    CHECK(us_uc_class_of(0x85) == US_UC_OTHER);   /* NEL: Unicode space, not JS \s */
    CHECK(us_uc_class_of(0xa0) == US_UC_SPACE);
    CHECK(us_uc_class_of(0x1680) == US_UC_SPACE);
    CHECK(us_uc_class_of(0x180e) == US_UC_OTHER);
    CHECK(us_uc_class_of(0x200a) == US_UC_SPACE);
    CHECK(us_uc_class_of(0x200b) == US_UC_OTHER); /* zero-width space is Cf */
    CHECK(us_uc_class_of(0x2028) == US_UC_SPACE);
    CHECK(us_uc_class_of(0x3000) == US_UC_SPACE);
    CHECK(us_uc_class_of(0xfeff) == US_UC_SPACE);
    CHECK(us_uc_class_of(0x00e9) == US_UC_LETTER);
    CHECK(us_uc_class_of(0x0301) == US_UC_OTHER);
    CHECK(us_uc_class_of(0x00bc) == US_UC_NUMBER); /* ¼ */
    CHECK(us_uc_class_of(0x216b) == US_UC_NUMBER); /* Ⅻ */
    CHECK(us_uc_class_of(0x0663) == US_UC_NUMBER); /* Arabic-Indic 3 */
    CHECK(us_uc_class_of(0x4e16) == US_UC_LETTER); /* 世 */
    CHECK(us_uc_class_of(0x1f600) == US_UC_OTHER);
    CHECK(us_uc_class_of(0x1d7d8) == US_UC_NUMBER); /* 𝟘 */
    CHECK(us_uc_class_of(0xe000) == US_UC_OTHER);
    CHECK(us_uc_class_of(0x10ffff) == US_UC_OTHER);
    /* The table is sorted, starts at U+0000, and agrees with the ASCII fast path. */
    CHECK(us_uc_n_bounds > 100 && (us_uc_bounds[0] >> 2) == 0);
    for (size_t i = 1; i < us_uc_n_bounds; i++) {
        CHECK(us_uc_bounds[i] > us_uc_bounds[i - 1]);
        CHECK((us_uc_bounds[i] & 3) != (us_uc_bounds[i - 1] & 3));
        CHECK((us_uc_bounds[i] >> 2) <= 0x10ffff);
    }
    for (uint32_t cp = 0; cp < 128; cp++) {
        /* the binary search path, forced by looking the entry up by hand */
        size_t k = 0;
        while (k + 1 < us_uc_n_bounds && (us_uc_bounds[k + 1] >> 2) <= cp) k++;
        CHECK((us_uc_bounds[k] & 3) == us_uc_ascii[cp]);
    }
}

/* ---------------------------------------------------------------- merging */

static void test_merge_order(void) {
    us_bpe *t = tiny_bpe(tiny_merges, N_TINY);
    REQUIRE(t != NULL);
    CHECK(us_bpe_vocab_size(t) == 256 + (int32_t)N_TINY);
    ENCODES(t, "abc", 257);             /* a+b (rank 1), then ab+c (rank 2) */
    ENCODES(t, "bca", 258, 'a');        /* b+c when a+b is not there */
    ENCODES(t, "abcbc", 257, 258);
    ENCODES(t, "the", 't', 260);        /* no leading space: " t" cannot form */
    ENCODES(t, "a the", 'a', 261);      /* " t" + "he" -> " the" */
    ENCODES(t, "aaa", 262, 'a');        /* equal ranks: the leftmost pair first */
    ENCODES(t, "aaaa", 263);
    ENCODES(t, "aaaaa", 263, 'a');
    ENCODES(t, "aaaaaaa", 263, 262, 'a');
    ENCODES(t, "it's", 'i', 't', 265);  /* "'s" is its own piece */
    ENCODES(t, "x   y", 'x', 266, ' ', 'y'); /* "  " + " y"; " " + "y" has no merge */
    us_bpe_free(t);

    /* The same vocabulary with b+c ranked first: "abc" becomes a, bc. */
    static const merge swapped[] = {{"b", "c"}, {"a", "b"}, {"ab", "c"}};
    sb v, m;
    tiny_files(swapped, 3, &v, &m);
    us_error err = {0};
    t = us_bpe_from_vocab_merges(v.p, v.n, m.p, m.n, &err);
    free(v.p);
    free(m.p);
    REQUIRE(t != NULL);
    ENCODES(t, "abc", 'a', 256);        /* 256 = bc here */
    ENCODES(t, "abab", 257, 257);
    us_bpe_free(t);
}

static void test_empty_input(void) {
    us_bpe *t = tiny_bpe(tiny_merges, N_TINY);
    REQUIRE(t != NULL);
    int32_t *ids = NULL;
    size_t n = 99;
    us_error err = {0};
    CHECK(us_bpe_encode(t, (const uint8_t *)"", 0, &ids, &n, &err) == US_OK);
    CHECK(ids != NULL && n == 0);
    free(ids);
    CHECK(us_bpe_encode(t, NULL, 0, &ids, &n, &err) == US_OK);
    CHECK(ids != NULL && n == 0);
    uint8_t *out = NULL;
    size_t olen = 99;
    CHECK(us_bpe_decode(t, ids, 0, &out, &olen, &err) == US_OK);
    CHECK(out != NULL && olen == 0 && out[0] == '\0');
    free(out);
    free(ids);
    us_bpe_free(t);
}

static void test_byte_fallback(void) {
    us_bpe *t = tiny_bpe(tiny_merges, N_TINY);
    REQUIRE(t != NULL);
    ENCODES(t, "caf\xc3\xa9", 'c', 'a', 'f', 264);         /* é has a merge */
    ENCODES(t, "\xc3\xa8", 0xc3, 0xa8);                      /* è does not: its two bytes */
    ENCODES(t, "\xf0\x9f\x98\x80", 0xf0, 0x9f, 0x98, 0x80); /* an emoji: four bytes */
    ENCODES(t, "\xff" "ab\xfe", 0xff, 256, 0xfe);            /* invalid UTF-8 still encodes */
    ENCODES(t, "<|endoftext|>", '<', '|', 'e', 'n', 'd', 'o', 'f', 't', 'e', 'x', 't', '|', '>');
    size_t len = 0;
    const uint8_t *b = us_bpe_token_bytes(t, 264, &len);
    CHECK(b && len == 2 && b[0] == 0xc3 && b[1] == 0xa9);
    b = us_bpe_token_bytes(t, 266, &len);
    CHECK(b && len == 2 && b[0] == ' ' && b[1] == ' ');
    b = us_bpe_token_bytes(t, '"', &len);
    CHECK(b && len == 1 && b[0] == '"');
    CHECK(us_bpe_token_bytes(t, -1, &len) == NULL && len == 0);
    CHECK(us_bpe_token_bytes(t, 256 + (int32_t)N_TINY, &len) == NULL);
    CHECK(us_bpe_token_bytes(NULL, 0, NULL) == NULL);
    us_bpe_free(t);
}

static void test_decode(void) {
    us_bpe *t = tiny_bpe(tiny_merges, N_TINY);
    REQUIRE(t != NULL);
    const char *texts[] = {"a the abc", "it's   aaaaa\n\n", "caf\xc3\xa9 \xe4\xb8\x96\xe7\x95\x8c",
                           "\xff\xfe\xc3", " ", "<|endoftext|>"};
    for (size_t k = 0; k < sizeof texts / sizeof texts[0]; k++)
        CHECK(round_trips(t, (const uint8_t *)texts[k], strlen(texts[k])));
    /* Half of a character decodes to its bytes. */
    int32_t ids[] = {257, 0xc3};
    uint8_t *out = NULL;
    size_t n = 0;
    us_error err = {0};
    CHECK(us_bpe_decode(t, ids, 2, &out, &n, &err) == US_OK);
    CHECK(n == 4 && memcmp(out, "abc\xc3", 4) == 0 && out[4] == '\0');
    free(out);

    /* Out of range: the id and its position are named. */
    int32_t bad[] = {1, 2, 9999};
    CHECK(us_bpe_decode(t, bad, 3, &out, &n, &err) == US_ERR_RANGE);
    CHECK(out == NULL && n == 0);
    CHECK(strstr(err.message, "9999") && strstr(err.message, "position 2"));
    int32_t neg[] = {-5};
    CHECK(us_bpe_decode(t, neg, 1, &out, &n, &err) == US_ERR_RANGE);
    CHECK(strstr(err.message, "-5") && strstr(err.message, "position 0"));
    int32_t edge[] = {256 + (int32_t)N_TINY};
    CHECK(us_bpe_decode(t, edge, 1, &out, &n, &err) == US_ERR_RANGE);
    CHECK(us_bpe_decode(t, NULL, 1, &out, &n, &err) == US_ERR_INVALID_ARG);
    CHECK(us_bpe_decode(NULL, ids, 1, &out, &n, &err) == US_ERR_INVALID_ARG);
    int32_t *ids2;
    size_t n2;
    CHECK(us_bpe_encode(t, NULL, 3, &ids2, &n2, &err) == US_ERR_INVALID_ARG);
    CHECK(us_bpe_encode(NULL, (const uint8_t *)"a", 1, &ids2, &n2, &err) == US_ERR_INVALID_ARG);
    CHECK(us_bpe_encode(t, (const uint8_t *)"a", 1, NULL, &n2, &err) == US_ERR_INVALID_ARG);
    us_bpe_free(t);
    us_bpe_free(NULL);
    CHECK(us_bpe_vocab_size(NULL) == 0);
}

/* A simple deterministic generator (xorshift32). */
static uint32_t rnd(uint32_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static void test_random_round_trips(void) {
    us_bpe *t = tiny_bpe(tiny_merges, N_TINY);
    REQUIRE(t != NULL);
    uint32_t seed = 12345;
    uint8_t buf[300];
    /* Text from a small alphabet that exercises every merge and tie, then
     * arbitrary bytes (mostly invalid UTF-8). */
    static const char *const bits[] = {"a", "b", "c", " ", "'", "s", "t", "h", "e", "\xc3\xa9", "\xc3",
                                       "\n", "  ", "1", "!", "\xe4\xb8\x96", "\xa9"};
    int ok = 1;
    for (int k = 0; k < 3000 && ok; k++) {
        size_t n = 0, target = rnd(&seed) % 200;
        if (k < 2000) {
            while (n < target) {
                const char *p = bits[rnd(&seed) % (sizeof bits / sizeof bits[0])];
                size_t l = strlen(p);
                memcpy(buf + n, p, l);
                n += l;
            }
        } else {
            for (; n < target; n++) buf[n] = (uint8_t)rnd(&seed);
        }
        ok = round_trips(t, buf, n);
        if (!ok) fprintf(stderr, "  round trip or scan/heap mismatch on random text %d\n", k);
    }
    CHECK(ok);
    us_bpe_free(t);
}

static void test_long_runs(void) {
    us_bpe *t = tiny_bpe(tiny_merges, N_TINY);
    REQUIRE(t != NULL);
    const size_t n = 100000;
    uint8_t *s = malloc(2 * n);
    REQUIRE(s != NULL);
    static const char *const units[] = {"a", " ", "\xc3\xa9", "ab", "!", "\n"};
    clock_t start = clock();
    for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
        size_t ul = strlen(units[u]), len = 0;
        while (len + ul <= 2 * n && len < n) {
            memcpy(s + len, units[u], ul);
            len += ul;
        }
        int32_t *ids = NULL;
        size_t nid = 0;
        us_error err = {0};
        REQUIRE(us_bpe_encode(t, s, len, &ids, &nid, &err) == US_OK);
        if (u == 0) { /* 100000 a's: 25000 "aaaa" */
            int all = nid == n / 4;
            for (size_t i = 0; all && i < nid; i++) all = ids[i] == 263;
            CHECK(all);
        }
        if (u == 1) { /* 100000 spaces: 50000 "  " (one piece, at the end of the text) */
            int all = nid == n / 2;
            for (size_t i = 0; all && i < nid; i++) all = ids[i] == 266;
            CHECK(all);
        }
        if (u == 2) { /* 50000 é */
            int all = nid == n / 2;
            for (size_t i = 0; all && i < nid; i++) all = ids[i] == 264;
            CHECK(all);
        }
        uint8_t *out = NULL;
        size_t olen = 0;
        CHECK(us_bpe_decode(t, ids, nid, &out, &olen, &err) == US_OK);
        CHECK(olen == len && memcmp(out, s, len) == 0);
        free(out);
        free(ids);
    }
    double secs = (double)(clock() - start) / CLOCKS_PER_SEC;
    /* A quadratic merge would take minutes here; n log n takes milliseconds
     * (the bound is generous for sanitizers and slow machines). */
    if (secs > 5.0) fprintf(stderr, "  long runs took %.2f s\n", secs);
    CHECK(secs < 5.0);
    free(s);
    us_bpe_free(t);
}

/* ---------------------------------------------------------------- loading errors */

/* Loads vocab.json = {<byte tokens><extra>} and merges.txt = merges; expects
 * failure with a message containing each of the NULL-terminated `want`. */
static int fails_with(const char *extra, const char *merges, us_status code, const char *want1,
                      const char *want2) {
    sb v = {0};
    sb_put(&v, "{", 1);
    sb_byte_tokens(&v);
    sb_put(&v, extra, strlen(extra));
    sb_put(&v, "}", 1);
    us_error err = {0};
    us_bpe *t = us_bpe_from_vocab_merges(v.p, v.n, merges, strlen(merges), &err);
    free(v.p);
    int ok = t == NULL && err.code == code && strstr(err.message, want1) &&
             (!want2 || strstr(err.message, want2));
    if (!ok) fprintf(stderr, "  got \"%s\" (%s), want \"%s\" / \"%s\"\n", err.message,
                     us_status_name(err.code), want1, want2 ? want2 : "");
    us_bpe_free(t);
    return ok;
}

static void test_vocab_errors(void) {
    us_error err = {0};
    /* Bad JSON: the offset of the fault is named. */
    const char *bad = "{\"a\": 1,}";
    CHECK(us_bpe_from_vocab_merges(bad, strlen(bad), "", 0, &err) == NULL);
    CHECK(err.code == US_ERR_FORMAT && strstr(err.message, "vocab.json") && strstr(err.message, "byte 8"));
    CHECK(us_bpe_from_vocab_merges("[1, 2]", 6, "", 0, &err) == NULL);
    CHECK(strstr(err.message, "vocab.json") && strstr(err.message, "array"));
    CHECK(us_bpe_from_vocab_merges("", 0, "", 0, &err) == NULL && err.code == US_ERR_FORMAT);
    CHECK(us_bpe_from_vocab_merges(NULL, 5, "", 0, &err) == NULL && err.code == US_ERR_INVALID_ARG);
    /* A byte without its token. */
    const char *one = "{\"a\": 0}";
    CHECK(us_bpe_from_vocab_merges(one, strlen(one), "", 0, &err) == NULL);
    CHECK(strstr(err.message, "0x00") && strstr(err.message, "256"));
    /* Bad ids and tokens. */
    CHECK(fails_with(",\"xy\": -1", "", US_ERR_FORMAT, "\"xy\"", "negative"));
    CHECK(fails_with(",\"xy\": 1.5", "", US_ERR_FORMAT, "\"xy\"", "fraction"));
    CHECK(fails_with(",\"xy\": \"7\"", "", US_ERR_FORMAT, "\"xy\"", "not a number"));
    CHECK(fails_with(",\"xy\": 16777216", "", US_ERR_FORMAT, "\"xy\"", "limit"));
    CHECK(fails_with(",\"xy\": 7", "", US_ERR_FORMAT, "id 7", "\"xy\""));       /* id taken */
    CHECK(fails_with(",\"xy\": 300, \"xy\": 301", "", US_ERR_FORMAT, "\"xy\"", "twice"));
    CHECK(fails_with(",\"x y\": 300", "", US_ERR_FORMAT, "U+0020", "alphabet")); /* raw space */
    CHECK(fails_with(",\"\": 300", "", US_ERR_FORMAT, "empty token", NULL));
    /* A good file loads, with holes below the largest id. */
    sb v = {0};
    sb_put(&v, "{", 1);
    sb_byte_tokens(&v);
    sb_puts(&v, ",\"xy\": 1000}");
    us_bpe *t = us_bpe_from_vocab_merges(v.p, v.n, "", 0, &err);
    free(v.p);
    REQUIRE(t != NULL);
    CHECK(us_bpe_vocab_size(t) == 1001);
    CHECK(us_bpe_token_bytes(t, 500, NULL) == NULL);
    int32_t hole[] = {120, 500};
    uint8_t *out;
    size_t n;
    CHECK(us_bpe_decode(t, hole, 2, &out, &n, &err) == US_ERR_RANGE);
    CHECK(strstr(err.message, "500") && strstr(err.message, "position 1"));
    us_bpe_free(t);
}

static void test_merges_errors(void) {
    const char *extra = ",\"ab\": 256, \"abc\": 257, \"bc\": 258";
    /* One token on a line: the line number is named (the #version line counts). */
    CHECK(fails_with(extra, "#version: 0.2\na b\nab\n", US_ERR_FORMAT, "merges.txt line 3", "1 part"));
    CHECK(fails_with(extra, "a b c\n", US_ERR_FORMAT, "merges.txt line 1", "3 parts"));
    CHECK(fails_with(extra, "a b\n\nab c\n", US_ERR_FORMAT, "merges.txt line 2", NULL)); /* empty line */
    /* Parts or result missing from the vocabulary. */
    CHECK(fails_with(extra, "a b\nzz c\n", US_ERR_FORMAT, "merges.txt line 2", "left part \"zz\""));
    CHECK(fails_with(extra, "a b\nab zz\n", US_ERR_FORMAT, "merges.txt line 2", "right part \"zz\""));
    CHECK(fails_with(extra, "a b\nc d\n", US_ERR_FORMAT, "merges.txt line 2", "merge of \"c\" and \"d\""));
    CHECK(fails_with(extra, "a b\nab \n", US_ERR_FORMAT, "merges.txt line 2", "right part \"\""));
    CHECK(fails_with(extra, "a b\n\xff\xfe c\n", US_ERR_FORMAT, "merges.txt line 2", "UTF-8"));
    /* Good variants: no #version line, CRLF, no final newline, a repeated
     * pair (its later rank counts, as in HuggingFace), no merges at all. */
    const char *goods[] = {"a b\nab c", "#version: 0.2\r\na b\r\nab c\r\n", "a b\nb c\nab c\na b\n", ""};
    for (size_t k = 0; k < 4; k++) {
        sb v = {0};
        sb_put(&v, "{", 1);
        sb_byte_tokens(&v);
        sb_put(&v, extra, strlen(extra));
        sb_put(&v, "}", 1);
        us_error err = {0};
        us_bpe *t = us_bpe_from_vocab_merges(v.p, v.n, goods[k], strlen(goods[k]), &err);
        free(v.p);
        if (!t) fprintf(stderr, "  good merges %zu: %s\n", k, err.message);
        REQUIRE(t != NULL);
        if (k == 3) ENCODES(t, "abc", 'a', 'b', 'c');
        else if (k == 2) ENCODES(t, "abc", 'a', 258); /* b c (rank 2) before a b (rank 4) */
        else ENCODES(t, "abc", 257);
        us_bpe_free(t);
    }
}

/* ---------------------------------------------------------------- tokenizer.json */

/* A tokenizer.json around the tiny vocabulary, with `merges_json` as
 * model.merges and `rest` spliced into the root object (after a comma). */
static char *tiny_json(const char *merges_json, const char *model_extra, const char *rest) {
    sb j = {0};
    sb_printf(&j, "{\"version\": \"1.0\", \"model\": {\"type\": \"BPE\"%s, \"vocab\": {", model_extra);
    sb_byte_tokens(&j);
    sb_puts(&j, ",\"ab\": 256, \"abc\": 257, \"xyz\": 258, \"!a\": 259}, \"merges\": ");
    sb_put(&j, merges_json, strlen(merges_json));
    sb_put(&j, "}", 1);
    if (rest && *rest) {
        sb_put(&j, ", ", 2);
        sb_put(&j, rest, strlen(rest));
    }
    sb_put(&j, "}", 1);
    return j.p;
}

static const char *const kByteLevel =
    "\"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"trim_offsets\": true,"
    " \"use_regex\": true}";

static us_bpe *load_json(const char *json, us_error *err) {
    return us_bpe_from_tokenizer_json(json, strlen(json), err);
}

static void test_tokenizer_json(void) {
    us_error err = {0};
    /* Merges as strings and as pairs; added tokens counted and decoded. */
    sb rest = {0};
    sb_printf(&rest, "%s, \"added_tokens\": [{\"id\": 300, \"content\": \"<|endoftext|>\", "
                     "\"special\": true}], \"decoder\": {\"type\": \"ByteLevel\"}, "
                     "\"post_processor\": {\"type\": \"ByteLevel\"}, \"normalizer\": null", kByteLevel);
    const char *forms[] = {"[\"a b\", \"ab c\"]", "[[\"a\", \"b\"], [\"ab\", \"c\"]]"};
    for (size_t k = 0; k < 2; k++) {
        char *js = tiny_json(forms[k], ", \"dropout\": null, \"continuing_subword_prefix\": \"\"", rest.p);
        us_bpe *t = load_json(js, &err);
        free(js);
        if (!t) fprintf(stderr, "  form %zu: %s\n", k, err.message);
        REQUIRE(t != NULL);
        CHECK(us_bpe_vocab_size(t) == 301);
        ENCODES(t, "abc ab", 257, ' ', 256); /* " ab": no merge joins the space */
        ENCODES(t, "<|endoftext|>", '<', '|', 'e', 'n', 'd', 'o', 'f', 't', 'e', 'x', 't', '|', '>');
        size_t len;
        const uint8_t *b = us_bpe_token_bytes(t, 300, &len);
        CHECK(b && len == 13 && memcmp(b, "<|endoftext|>", 13) == 0);
        int32_t ids[] = {257, 300};
        uint8_t *out;
        CHECK(us_bpe_decode(t, ids, 2, &out, &len, &err) == US_OK);
        CHECK(len == 16 && memcmp(out, "abc<|endoftext|>", 16) == 0);
        free(out);
        us_bpe_free(t);
    }
    free(rest.p);

    /* Sequence[ByteLevel] with add_prefix_space; ignore_merges; use_regex false. */
    const char *seq = "\"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": "
                      "\"ByteLevel\", \"add_prefix_space\": true}]}";
    char *js = tiny_json("[\"a b\", \"ab c\"]", "", seq);
    us_bpe *t = load_json(js, &err);
    free(js);
    REQUIRE(t != NULL);
    ENCODES(t, "abc", ' ', 257);
    ENCODES(t, " abc", ' ', 257);
    us_bpe_free(t);

    js = tiny_json("[]", ", \"ignore_merges\": true", kByteLevel);
    t = load_json(js, &err);
    free(js);
    REQUIRE(t != NULL);
    ENCODES(t, "xyz xyz", 258, ' ', 'x', 'y', 'z');
    us_bpe_free(t);

    const char *no_regex = "\"pre_tokenizer\": {\"type\": \"ByteLevel\", \"use_regex\": false, "
                           "\"add_prefix_space\": false}";
    for (int k = 0; k < 2; k++) {
        js = tiny_json("[\"! a\"]", "", k ? no_regex : kByteLevel);
        t = load_json(js, &err);
        free(js);
        REQUIRE(t != NULL);
        if (k) ENCODES(t, "x!a", 'x', 259); /* one piece: "!" and "a" merge */
        else ENCODES(t, "x!a", 'x', '!', 'a');
        us_bpe_free(t);
    }
}

static void test_tokenizer_json_errors(void) {
    static const struct {
        const char *merges, *model_extra, *rest, *want1, *want2;
    } cases[] = {
        {"[]", "", "\"pre_tokenizer\": {\"type\": \"Split\"}", "pre_tokenizer", "\"Split\""},
        {"[]", "", "\"pre_tokenizer\": null", "pre_tokenizer is null", NULL},
        {"[]", "", "\"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Split\"}, "
                   "{\"type\": \"ByteLevel\"}]}", "pretokenizers[0]", "\"Split\""},
        {"[]", "", "\"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": []}", "without ByteLevel", NULL},
        {"[]", "", "\"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": 1}", "add_prefix_space", NULL},
        {"[]", "", "\"normalizer\": {\"type\": \"NFC\"}, \"pre_tokenizer\": {\"type\": \"ByteLevel\"}", "normalizer \"NFC\"", NULL},
        {"[]", "", "\"decoder\": {\"type\": \"WordPiece\"}, \"pre_tokenizer\": {\"type\": \"ByteLevel\"}", "decoder \"WordPiece\"", NULL},
        {"[]", "", "\"post_processor\": {\"type\": \"TemplateProcessing\"}, \"pre_tokenizer\": {\"type\": \"ByteLevel\"}", "post_processor \"TemplateProcessing\"", NULL},
        {"[]", ", \"dropout\": 0.1", "\"pre_tokenizer\": {\"type\": \"ByteLevel\"}", "dropout", NULL},
        {"[]", ", \"end_of_word_suffix\": \"</w>\"", "\"pre_tokenizer\": {\"type\": \"ByteLevel\"}", "end_of_word_suffix", NULL},
        {"[\"a b\", \"ab\"]", "", "\"pre_tokenizer\": {\"type\": \"ByteLevel\"}", "model.merges[1]", "\"left right\""},
        {"[\"a b\", [\"ab\"]]", "", "\"pre_tokenizer\": {\"type\": \"ByteLevel\"}", "model.merges[1]", NULL},
        {"[\"a b\", \"b d\"]", "", "\"pre_tokenizer\": {\"type\": \"ByteLevel\"}", "model.merges[1]", "merge of \"b\" and \"d\""},
        {"[[\"q\", \"zz\"]]", "", "\"pre_tokenizer\": {\"type\": \"ByteLevel\"}", "model.merges[0]", "right part \"zz\""},
        {"{}", "", "\"pre_tokenizer\": {\"type\": \"ByteLevel\"}", "model.merges", "object"},
        {"[]", "", "\"pre_tokenizer\": {\"type\": \"ByteLevel\"}, \"added_tokens\": [{\"id\": -1, \"content\": \"x\"}]", "added_tokens[0]", "negative"},
        {"[]", "", "\"pre_tokenizer\": {\"type\": \"ByteLevel\"}, \"added_tokens\": [{\"id\": 5}]", "added_tokens[0]", "content"},
    };
    us_error err = {0};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char *js = tiny_json(cases[k].merges, cases[k].model_extra, cases[k].rest);
        us_bpe *t = load_json(js, &err);
        free(js);
        int ok = t == NULL && err.code == US_ERR_FORMAT && strstr(err.message, "tokenizer.json") &&
                 strstr(err.message, cases[k].want1) && (!cases[k].want2 || strstr(err.message, cases[k].want2));
        if (!ok) fprintf(stderr, "  case %zu: got \"%s\"\n", k, err.message);
        CHECK(ok);
        us_bpe_free(t);
    }
    /* Not BPE, not an object, not JSON. */
    const char *wp = "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {}}}";
    CHECK(load_json(wp, &err) == NULL && strstr(err.message, "\"WordPiece\""));
    CHECK(load_json("[]", &err) == NULL && strstr(err.message, "expected an object"));
    CHECK(load_json("{\"model\": ", &err) == NULL && strstr(err.message, "byte 10"));
    CHECK(load_json("{}", &err) == NULL && strstr(err.message, "model"));
}

/* Every truncation of a valid tokenizer.json and vocab.json must fail cleanly
 * (or, for merges, load a prefix), never read out of bounds. */
static void test_truncations(void) {
    char *js = tiny_json("[\"a b\", \"ab c\"]", "", kByteLevel);
    size_t len = strlen(js);
    for (size_t k = 0; k < len; k += (k < 200 || len - k < 200) ? 1 : 97) {
        char *cut = malloc(k ? k : 1);
        memcpy(cut, js, k);
        us_error err = {0};
        us_bpe *t = us_bpe_from_tokenizer_json(cut, k, &err);
        CHECK(t == NULL && err.code == US_ERR_FORMAT);
        us_bpe_free(t);
        free(cut);
    }
    free(js);
    const char *merges = "#version: 0.2\na b\nab c\n";
    sb v = {0};
    sb_put(&v, "{", 1);
    sb_byte_tokens(&v);
    sb_puts(&v, ",\"ab\": 256, \"abc\": 257}");
    for (size_t k = 0; k <= strlen(merges); k++) {
        char *cut = malloc(k ? k : 1);
        memcpy(cut, merges, k);
        us_error err = {0};
        us_bpe *t = us_bpe_from_vocab_merges(v.p, v.n, cut, k, &err);
        /* A cut inside a line leaves one token ("a", "ab") or an unknown one ("a"+"b" is fine). */
        if (!t) CHECK(err.code == US_ERR_FORMAT && strstr(err.message, "merges.txt line"));
        us_bpe_free(t);
        free(cut);
    }
    free(v.p);
}

int main(void) {
    US_RUN(test_unicode_classes);
    US_RUN(test_pretokenizer);
    US_RUN(test_merge_order);
    US_RUN(test_empty_input);
    US_RUN(test_byte_fallback);
    US_RUN(test_decode);
    US_RUN(test_random_round_trips);
    US_RUN(test_long_runs);
    US_RUN(test_vocab_errors);
    US_RUN(test_merges_errors);
    US_RUN(test_tokenizer_json);
    US_RUN(test_tokenizer_json_errors);
    US_RUN(test_truncations);
    return us_harness_summary();
}
