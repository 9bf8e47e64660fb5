/* fuzz.h — shared by the libFuzzer harnesses in tests/fuzz (see README.md).
 *
 * Each harness is one file defining LLVMFuzzerTestOneInput: it feeds the
 * input to one parser of outside input and then checks what the parser
 * promises (a failure leaves the output empty and says why; a success
 * satisfies the documented invariants). A broken promise aborts through
 * FUZZ_CHECK, which libFuzzer reports as a crash with the input saved, just
 * like the memory errors, leaks and undefined behaviour that ASan and UBSan
 * catch. */
#ifndef US_FUZZ_H
#define US_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CHECK(cond)                                                                  \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                      \
        }                                                                                 \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
