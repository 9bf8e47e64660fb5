/* fuzz_vocab_merges.c — us_bpe_from_vocab_merges on arbitrary bytes: the
 * input up to its first NUL byte is vocab.json (JSON cannot hold a raw NUL,
 * so nothing is lost), the rest is merges.txt.
 *
 * A failure must say why. A tokenizer that loads has no added tokens and no
 * prefix space, so besides the checks of bpe_check.h, decoding must give back
 * the text byte for byte; the text encoded is the whole input. */
#include "bpe_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *nul = memchr(data, 0, size);
    size_t vlen = nul ? (size_t)(nul - data) : size;
    const char *merges = nul ? (const char *)nul + 1 : "";
    size_t mlen = nul ? size - vlen - 1 : 0;
    us_error err = {0};
    us_bpe *t = us_bpe_from_vocab_merges((const char *)data, vlen, merges, mlen, &err);
    if (!t) {
        FUZZ_CHECK(err.code != US_OK && err.message[0]);
        return 0;
    }
    fuzz_check_ids(t, 4096);
    fuzz_check_encode(t, data, size, 1);
    us_bpe_free(t);
    return 0;
}
