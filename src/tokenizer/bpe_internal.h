/* bpe_internal.h — hooks into the BPE tokenizer for its tests.
 *
 * Encoding merges short pieces with a scan over an array (quadratic, fast
 * when small) and long ones with a heap (n log n); both apply the
 * lowest-ranked merge first, leftmost on ties, so they must give the same
 * ids. These entry points let tests force one loop or the other. */
#ifndef US_TOKENIZER_BPE_INTERNAL_H
#define US_TOKENIZER_BPE_INTERNAL_H

#include "tokenizer/bpe.h"

typedef enum us_bpe_merge_loop {
    US_BPE_LOOP_AUTO = 0, /* scan up to US_BPE_SCAN_MAX bytes, heap beyond */
    US_BPE_LOOP_SCAN = 1,
    US_BPE_LOOP_HEAP = 2
} us_bpe_merge_loop;

/* Pieces up to this many bytes use the scan in US_BPE_LOOP_AUTO. */
#define US_BPE_SCAN_MAX 48

/* us_bpe_encode with the merge loop chosen by the caller. */
us_status us_bpe_encode_with(const us_bpe *t, const uint8_t *text, size_t len,
                             us_bpe_merge_loop loop, int32_t **ids, size_t *n_ids, us_error *err);

#endif /* US_TOKENIZER_BPE_INTERNAL_H */
