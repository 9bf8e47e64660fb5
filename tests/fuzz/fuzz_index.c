/* fuzz_index.c — us_index_parse on arbitrary bytes (the index strings hooks
 * take: "1:5", "...,[0,2]", "::-1").
 *
 * Checks: a failure leaves the index empty with a message; a success has at
 * most US_INDEX_MAX_ITEMS items, at most one "...", lists inside the list
 * array, non-zero steps and values of magnitude <= 2^53. */
#include "fuzz.h"
#include "unseal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    us_index idx;
    us_error err = {0};
    us_status s = us_index_parse((const char *)data, size, &idx, &err);
    if (s != US_OK) {
        FUZZ_CHECK(idx.n_items == 0 && idx.n_list == 0 && idx.list == NULL && err.code == s && err.message[0]);
        return 0;
    }
    const int64_t lim = (int64_t)1 << 53;
    FUZZ_CHECK(idx.n_items >= 0 && idx.n_items <= US_INDEX_MAX_ITEMS && idx.n_list >= 0);
    int ellipses = 0, listed = 0;
    for (int32_t i = 0; i < idx.n_items; i++) {
        const us_index_item *it = &idx.items[i];
        switch (it->kind) {
        case US_INDEX_ELLIPSIS: ellipses++; break;
        case US_INDEX_INT: FUZZ_CHECK(it->start >= -lim && it->start <= lim); break;
        case US_INDEX_SLICE:
            FUZZ_CHECK(it->step != 0 && it->step >= -lim && it->step <= lim);
            FUZZ_CHECK(!it->has_start || (it->start >= -lim && it->start <= lim));
            FUZZ_CHECK(!it->has_stop || (it->stop >= -lim && it->stop <= lim));
            break;
        case US_INDEX_LIST:
            FUZZ_CHECK(it->list_len >= 1 && it->list_off == listed && it->list_off + it->list_len <= idx.n_list);
            for (int32_t j = 0; j < it->list_len; j++)
                FUZZ_CHECK(idx.list[it->list_off + j] >= -lim && idx.list[it->list_off + j] <= lim);
            listed += it->list_len;
            break;
        default: FUZZ_CHECK(!"unknown item kind");
        }
    }
    FUZZ_CHECK(ellipses <= 1 && listed == idx.n_list);
    us_index_free(&idx);
    return 0;
}
