/* fuzz_tokenizer_json.c — us_bpe_from_tokenizer_json on arbitrary bytes.
 *
 * A failure must say why. A tokenizer that loads must encode the input
 * itself (any bytes) consistently and decodably (bpe_check.h); the round trip
 * is not asserted here, since added tokens and add_prefix_space legitimately
 * change the decoded text. */
#include "bpe_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    us_error err = {0};
    us_bpe *t = us_bpe_from_tokenizer_json((const char *)data, size, &err);
    if (!t) {
        FUZZ_CHECK(err.code != US_OK && err.message[0]);
        return 0;
    }
    fuzz_check_ids(t, 4096);
    fuzz_check_encode(t, data, size, 0);
    static const char sample[] = "Hello world, it's 2024!  \n\n\xc3\xa9t\xc3\xa9 \xf0\x9f\x98\x80 abcabc aaaa";
    fuzz_check_encode(t, (const uint8_t *)sample, sizeof sample - 1, 0);
    us_bpe_free(t);
    return 0;
}
