/* fuzz_hf_config.c — us_gpt2_config_parse on arbitrary bytes (config.json).
 *
 * Checks: a failure zeroes the config and says why; a success gives positive
 * sizes below 2^31, n_inner >= 0, n_embd divisible by n_head and a
 * layer_norm_epsilon that is >= 0 (possibly infinite, never NaN). */
#include <string.h>

#include "fuzz.h"
#include "unseal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    us_gpt2_config cfg;
    us_error err = {0};
    us_status s = us_gpt2_config_parse((const char *)data, size, &cfg, &err);
    if (s != US_OK) {
        static const us_gpt2_config zero = {0};
        FUZZ_CHECK(memcmp(&cfg, &zero, sizeof cfg) == 0 && err.code == s && err.message[0]);
        return 0;
    }
    FUZZ_CHECK(cfg.vocab_size > 0 && cfg.n_positions > 0 && cfg.n_embd > 0 && cfg.n_layer > 0 && cfg.n_head > 0);
    FUZZ_CHECK(cfg.n_inner >= 0 && cfg.n_embd % cfg.n_head == 0);
    FUZZ_CHECK(cfg.layer_norm_epsilon >= 0); /* false for NaN */
    return 0;
}
