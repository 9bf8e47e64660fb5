/* bpe_check.h — what every built tokenizer must do with any text, shared by
 * the tokenizer harnesses: the scan and the heap merge loops (and the
 * automatic choice between them) give the same ids, at most one id per byte
 * (plus the prefix space), every id decodes, and, when the tokenizer has no
 * added tokens and no prefix space, decoding gives back the text byte for
 * byte. */
#ifndef US_FUZZ_BPE_CHECK_H
#define US_FUZZ_BPE_CHECK_H

#include <string.h>

#include "fuzz.h"
#include "tokenizer/bpe.h"
#include "tokenizer/bpe_internal.h"

/* The scan is quadratic in a piece's length; beyond this it is skipped so
 * that one input stays fast (the heap and the automatic choice still run). */
#define FUZZ_SCAN_MAX 1024

static void fuzz_check_encode(const us_bpe *t, const uint8_t *text, size_t len, int round_trip) {
    us_error err = {0};
    int32_t *a = NULL, *b = NULL, *c = NULL;
    size_t na = 0, nb = 0, nc = 0;
    FUZZ_CHECK(us_bpe_encode(t, text, len, &a, &na, &err) == US_OK && a != NULL);
    FUZZ_CHECK(us_bpe_encode_with(t, text, len, US_BPE_LOOP_HEAP, &b, &nb, &err) == US_OK);
    FUZZ_CHECK(na == nb && (na == 0 || memcmp(a, b, na * sizeof *a) == 0));
    if (len <= FUZZ_SCAN_MAX) {
        FUZZ_CHECK(us_bpe_encode_with(t, text, len, US_BPE_LOOP_SCAN, &c, &nc, &err) == US_OK);
        FUZZ_CHECK(na == nc && (na == 0 || memcmp(a, c, na * sizeof *a) == 0));
    }
    FUZZ_CHECK(na <= len + 1);
    int32_t vocab = us_bpe_vocab_size(t);
    for (size_t i = 0; i < na; i++) FUZZ_CHECK(a[i] >= 0 && a[i] < vocab && us_bpe_token_bytes(t, a[i], NULL));
    uint8_t *out = NULL;
    size_t nout = 0;
    FUZZ_CHECK(us_bpe_decode(t, a, na, &out, &nout, &err) == US_OK && out != NULL && out[nout] == 0);
    if (round_trip) FUZZ_CHECK(nout == len && (len == 0 || memcmp(out, text, len) == 0));
    free(out);
    free(a);
    free(b);
    free(c);
}

/* Every id below the vocabulary size either has bytes (and decodes to them)
 * or fails to decode with US_ERR_RANGE. */
static void fuzz_check_ids(const us_bpe *t, int32_t limit) {
    int32_t n = us_bpe_vocab_size(t);
    FUZZ_CHECK(n >= 256);
    if (n > limit) n = limit;
    for (int32_t id = -1; id <= n; id++) {
        size_t len = 0, nout = 0;
        const uint8_t *bytes = us_bpe_token_bytes(t, id, &len);
        uint8_t *out = NULL;
        us_error err = {0};
        us_status s = us_bpe_decode(t, &id, 1, &out, &nout, &err);
        if (bytes) FUZZ_CHECK(s == US_OK && nout == len && memcmp(out, bytes, len) == 0);
        else FUZZ_CHECK(s == US_ERR_RANGE && out == NULL && len == 0 && err.message[0]);
        free(out);
    }
}

#endif
