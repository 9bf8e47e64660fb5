/* fuzz_bpe_encode.c — BPE encoding of arbitrary bytes with fixed tokenizers.
 *
 * Two small tokenizers are built once, from text written here: the 256
 * one-byte tokens (in GPT-2's byte-to-unicode alphabet) plus the results of
 * the merges below, which cover ranks and ties, runs ("aaaa"), multi-byte
 * characters and split UTF-8 sequences, spaces, newlines and contractions.
 *   A: vocab.json + merges.txt, GPT-2 pre-tokenization (pieces);
 *   B: the same as tokenizer.json with use_regex false and ignore_merges
 *      true, so the whole input is one piece (the heap merge loop on long
 *      pieces, and the whole-piece vocabulary lookup).
 * For each input both must give decode(encode(x)) == x byte for byte, with
 * the scan and heap merge loops agreeing (bpe_check.h). */
#include <stdarg.h>

#include "bpe_check.h"

typedef struct sb {
    char *p;
    size_t n, cap;
} sb;

static void sb_put(sb *b, const void *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        FUZZ_CHECK(b->p != NULL);
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void sb_printf(sb *b, const char *fmt, ...) {
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    sb_put(b, tmp, (size_t)n);
}

/* GPT-2's bytes_to_unicode(): printable bytes stand for themselves, the
 * others take U+0100 upwards in byte order. */
static uint32_t byte_char(uint8_t byte) {
    uint32_t n = 0;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
        if (b == byte) return printable ? (uint32_t)b : 256 + n;
        if (!printable) n++;
    }
    return 0;
}

/* Appends s[0, n) in the byte alphabet, JSON-escaped if `json`. */
static void sb_alpha(sb *b, const char *s, size_t n, int json) {
    for (size_t i = 0; i < n; i++) {
        uint32_t cp = byte_char((uint8_t)s[i]);
        if (json && (cp == '"' || cp == '\\')) sb_put(b, "\\", 1);
        char u[2] = {(char)cp, 0};
        if (cp >= 0x80) {
            u[0] = (char)(0xc0 | (cp >> 6));
            u[1] = (char)(0x80 | (cp & 0x3f));
        }
        sb_put(b, u, cp < 0x80 ? 1 : 2);
    }
}

/* Merges in rank order; each result is a new token (ids 256, 257, ...). */
static const char *const kMerges[][2] = {
    {"a", "b"},   {"ab", "c"},  {"b", "c"},   {" ", "t"},   {"h", "e"},   {" t", "he"}, {"a", "a"},
    {"aa", "aa"}, {"aaaa", "aaaa"}, {"\xc3", "\xa9"}, {"'", "s"}, {" ", " "}, {"  ", "  "}, {"\n", "\n"},
    {"1", "2"},   {"12", "3"},  {"e", "r"},   {"t", "h"},   {"th", "er"}, {"\xf0\x9f", "\x98\x80"},
    {"\xf0", "\x9f"}, {"\x98", "\x80"}, {" ", "a"}, {"b", "a"}, {"ba", "ba"}, {"\xe2\x80", "\x99"},
    {"\xe2", "\x80"}, {"x", "\xff"}, {"\x00", "\x00"}, {"\r", "\n"},
};
#define N_MERGES (sizeof kMerges / sizeof kMerges[0])

static us_bpe *g_pieces, *g_whole;

static void build(void) {
    sb vocab = {0}, merges = {0}, json = {0}, tokens = {0};
    for (int i = 0; i < 256; i++) { /* "<byte i>": i */
        char c = (char)i;
        sb_put(&tokens, i ? ",\"" : "\"", i ? 2 : 1);
        sb_alpha(&tokens, &c, 1, 1);
        sb_printf(&tokens, "\":%d", i);
    }
    sb_put(&merges, "#version: 0.2\n", 14);
    sb_put(&json, "[", 1);
    for (size_t k = 0; k < N_MERGES; k++) {
        const char *l = kMerges[k][0], *r = kMerges[k][1];
        size_t ll = strlen(l) ? strlen(l) : 1, rl = strlen(r) ? strlen(r) : 1; /* "\x00" */
        sb_put(&tokens, ",\"", 2);
        sb_alpha(&tokens, l, ll, 1);
        sb_alpha(&tokens, r, rl, 1);
        sb_printf(&tokens, "\":%zu", 256 + k);
        sb_alpha(&merges, l, ll, 0);
        sb_put(&merges, " ", 1);
        sb_alpha(&merges, r, rl, 0);
        sb_put(&merges, "\n", 1);
        sb_put(&json, k ? ",[\"" : "[\"", k ? 3 : 2);
        sb_alpha(&json, l, ll, 1);
        sb_put(&json, "\",\"", 3);
        sb_alpha(&json, r, rl, 1);
        sb_put(&json, "\"]", 2);
    }
    sb_put(&json, "]", 1);
    sb_put(&vocab, "{", 1);
    sb_put(&vocab, tokens.p, tokens.n);
    sb_put(&vocab, "}", 1);

    us_error err = {0};
    g_pieces = us_bpe_from_vocab_merges(vocab.p, vocab.n, merges.p, merges.n, &err);
    if (!g_pieces) fprintf(stderr, "fuzz_bpe_encode: %s\n", err.message);
    FUZZ_CHECK(g_pieces != NULL);

    sb tj = {0};
    sb_printf(&tj, "{\"version\":\"1.0\",\"normalizer\":null,\"added_tokens\":[],"
                   "\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"use_regex\":false},"
                   "\"decoder\":{\"type\":\"ByteLevel\"},\"post_processor\":null,"
                   "\"model\":{\"type\":\"BPE\",\"ignore_merges\":true,\"vocab\":{");
    sb_put(&tj, tokens.p, tokens.n);
    sb_put(&tj, "},\"merges\":", 11);
    sb_put(&tj, json.p, json.n);
    sb_put(&tj, "}}", 2);
    g_whole = us_bpe_from_tokenizer_json(tj.p, tj.n, &err);
    if (!g_whole) fprintf(stderr, "fuzz_bpe_encode: %s\n", err.message);
    FUZZ_CHECK(g_whole != NULL);
    FUZZ_CHECK(us_bpe_vocab_size(g_pieces) == 256 + (int32_t)N_MERGES);
    FUZZ_CHECK(us_bpe_vocab_size(g_whole) == 256 + (int32_t)N_MERGES);
    fuzz_check_ids(g_pieces, 4096);
    fuzz_check_ids(g_whole, 4096);
    free(vocab.p);
    free(merges.p);
    free(json.p);
    free(tokens.p);
    free(tj.p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!g_pieces) build(); /* once; both live for the whole run */
    fuzz_check_encode(g_pieces, data, size, 1);
    fuzz_check_encode(g_whole, data, size, 1);
    return 0;
}
