/* tokenize_cli.c — a test tool around the BPE tokenizer (src/tokenizer/bpe.h),
 * so that Node tests can compare it with js-tiktoken before the tokenizer has
 * JS bindings. Built natively by CMake; not a ctest.
 *
 *   tokenize_cli (--vocab V --merges M | --tokenizer-json T) [--loop auto|scan|heap]
 *                [--decode] IN OUT
 *       IN holds records (u32 little-endian byte count, then the bytes). For
 *       each, OUT gets u32 n and n int32 ids, and with --decode also u32 m and
 *       the m bytes of decode(ids). Exit status 0, or 1 with a message.
 *   tokenize_cli (--vocab V --merges M | --tokenizer-json T) --bench FILE [--repeat R]
 *       Encodes FILE whole R times (default 5) and prints the throughput. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tokenizer/bpe.h"
#include "tokenizer/bpe_internal.h"

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf) break;
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) break;
        char *grown = realloc(buf, cap * 2);
        if (!grown) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = grown;
        cap *= 2;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

static int die(const char *msg, const char *detail) {
    fprintf(stderr, "tokenize_cli: %s%s%s\n", msg, detail ? ": " : "", detail ? detail : "");
    return 1;
}

static void put_u32(FILE *f, uint32_t v) {
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    fwrite(b, 1, 4, f);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    const char *vocab = NULL, *merges = NULL, *tjson = NULL, *bench = NULL, *pos[2] = {0};
    int decode = 0, repeat = 5, npos = 0;
    us_bpe_merge_loop loop = US_BPE_LOOP_AUTO;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has_val = i + 1 < argc;
        if (!strcmp(a, "--vocab") && has_val) vocab = argv[++i];
        else if (!strcmp(a, "--merges") && has_val) merges = argv[++i];
        else if (!strcmp(a, "--tokenizer-json") && has_val) tjson = argv[++i];
        else if (!strcmp(a, "--bench") && has_val) bench = argv[++i];
        else if (!strcmp(a, "--repeat") && has_val) repeat = atoi(argv[++i]);
        else if (!strcmp(a, "--decode")) decode = 1;
        else if (!strcmp(a, "--loop") && has_val) {
            const char *v = argv[++i];
            loop = !strcmp(v, "scan") ? US_BPE_LOOP_SCAN : !strcmp(v, "heap") ? US_BPE_LOOP_HEAP : US_BPE_LOOP_AUTO;
        } else if (a[0] != '-' && npos < 2) pos[npos++] = a;
        else return die("unknown or incomplete argument", a);
    }
    if (!((vocab && merges) || tjson) || (!bench && npos != 2))
        return die("usage: tokenize_cli (--vocab V --merges M | --tokenizer-json T) "
                   "[--loop auto|scan|heap] [--decode] IN OUT | --bench FILE [--repeat R]", NULL);

    us_error err = {0};
    us_bpe *tok = NULL;
    if (tjson) {
        size_t len;
        char *text = read_file(tjson, &len);
        if (!text) return die("cannot read", tjson);
        tok = us_bpe_from_tokenizer_json(text, len, &err);
        free(text);
    } else {
        size_t vl, ml;
        char *v = read_file(vocab, &vl), *m = read_file(merges, &ml);
        if (!v || !m) return die("cannot read", v ? merges : vocab);
        tok = us_bpe_from_vocab_merges(v, vl, m, ml, &err);
        free(v);
        free(m);
    }
    if (!tok) return die("loading the tokenizer failed", err.message);

    if (bench) {
        size_t len;
        char *text = read_file(bench, &len);
        if (!text) return die("cannot read", bench);
        size_t n_ids = 0;
        double best = 1e30;
        for (int r = 0; r < (repeat > 0 ? repeat : 1); r++) {
            int32_t *ids;
            double t0 = now_s();
            if (us_bpe_encode_with(tok, (const uint8_t *)text, len, loop, &ids, &n_ids, &err) != US_OK)
                return die("encode failed", err.message);
            double dt = now_s() - t0;
            if (dt < best) best = dt;
            free(ids);
        }
        printf("%zu bytes -> %zu tokens in %.4f s (best of %d): %.1f MB/s\n", len, n_ids, best, repeat,
               len / best / 1e6);
        free(text);
        us_bpe_free(tok);
        return 0;
    }

    size_t in_len;
    uint8_t *in = (uint8_t *)read_file(pos[0], &in_len);
    if (!in) return die("cannot read", pos[0]);
    FILE *out = fopen(pos[1], "wb");
    if (!out) return die("cannot write", pos[1]);
    size_t at = 0;
    while (at < in_len) {
        if (in_len - at < 4) return die("truncated record length in", pos[0]);
        uint32_t n = (uint32_t)in[at] | (uint32_t)in[at + 1] << 8 | (uint32_t)in[at + 2] << 16 |
                     (uint32_t)in[at + 3] << 24;
        at += 4;
        if (in_len - at < n) return die("truncated record in", pos[0]);
        int32_t *ids;
        size_t n_ids;
        if (us_bpe_encode_with(tok, in + at, n, loop, &ids, &n_ids, &err) != US_OK)
            return die("encode failed", err.message);
        at += n;
        put_u32(out, (uint32_t)n_ids);
        for (size_t i = 0; i < n_ids; i++) put_u32(out, (uint32_t)ids[i]);
        if (decode) {
            uint8_t *bytes;
            size_t nb;
            if (us_bpe_decode(tok, ids, n_ids, &bytes, &nb, &err) != US_OK)
                return die("decode failed", err.message);
            put_u32(out, (uint32_t)nb);
            fwrite(bytes, 1, nb, out);
            free(bytes);
        }
        free(ids);
    }
    if (fclose(out) != 0) return die("cannot write", pos[1]);
    free(in);
    us_bpe_free(tok);
    return 0;
}
