/* fuzz_safetensors.c — us_safetensors_parse and us_safetensors_parse_header
 * on arbitrary bytes (header length, JSON header, dtypes, shapes, offsets).
 *
 * Checks: a failure leaves *st empty with a message; a success satisfies the
 * documented invariants (offsets within the data section, sizes matching
 * shape x dtype, tensors tiling the data section, names unique and findable),
 * and every F32/F16/BF16 tensor converts with us_convert_to_f32 reading only
 * its own bytes (ASan). The header-only entry point must reach the same
 * verdict and table, both from the whole file and from a copy holding only
 * the first 8 + N bytes (so a read beyond the header is caught). */
#include <string.h>

#include "fuzz.h"
#include "unseal.h"

static int st_empty(const us_safetensors *st) {
    return st->n_entries == 0 && !st->entries && !st->data && !st->data_len && !st->header_len &&
           !st->metadata_json;
}

static void check_parsed(const us_safetensors *st, size_t len) {
    FUZZ_CHECK(8 + st->header_len + st->data_len == len);
    uint64_t total = 0;
    for (int32_t i = 0; i < st->n_entries; i++) {
        const us_st_entry *e = &st->entries[i];
        FUZZ_CHECK(e->name && e->ndim >= 0 && e->ndim <= US_MAX_DIMS && e->dtype < US_DTYPE_COUNT);
        FUZZ_CHECK(e->begin <= e->end && e->end <= st->data_len);
        us_tensor t = us_tensor_make(e->dtype, NULL, e->ndim, e->shape);
        FUZZ_CHECK((uint64_t)us_tensor_numel(&t) * us_dtype_size(e->dtype) == e->end - e->begin);
        FUZZ_CHECK(us_safetensors_find(st, e->name) == i);
        total += e->end - e->begin;
    }
    FUZZ_CHECK(total == st->data_len);
}

static int same_table(const us_safetensors *a, const us_safetensors *b) {
    if (a->n_entries != b->n_entries || a->header_len != b->header_len || a->data_len != b->data_len) return 0;
    if (!a->metadata_json != !b->metadata_json) return 0;
    if (a->metadata_json && strcmp(a->metadata_json, b->metadata_json) != 0) return 0;
    for (int32_t i = 0; i < a->n_entries; i++) {
        const us_st_entry *x = &a->entries[i], *y = &b->entries[i];
        if (strcmp(x->name, y->name) || x->dtype != y->dtype || x->ndim != y->ndim || x->begin != y->begin ||
            x->end != y->end || memcmp(x->shape, y->shape, sizeof x->shape[0] * (size_t)x->ndim))
            return 0;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    us_safetensors st;
    us_error err = {0};
    us_status s = us_safetensors_parse(data, size, &st, &err);
    if (s != US_OK) {
        FUZZ_CHECK(st_empty(&st) && err.code == s && err.message[0]);
    } else {
        check_parsed(&st, size);
        FUZZ_CHECK(st.data == data + 8 + st.header_len);
        for (int32_t i = 0; i < st.n_entries; i++) {
            const us_st_entry *e = &st.entries[i];
            if (e->dtype != US_F32 && e->dtype != US_F16 && e->dtype != US_BF16) continue;
            size_t n = (size_t)(e->end - e->begin) / us_dtype_size(e->dtype);
            float *dst = malloc(n ? n * sizeof *dst : 1);
            FUZZ_CHECK(dst != NULL);
            FUZZ_CHECK(us_convert_to_f32(dst, st.data + e->begin, e->dtype, n) == US_OK);
            free(dst);
        }
    }

    /* The header-only entry point on the whole file: same verdict and table. */
    us_safetensors hs;
    us_error herr = {0};
    us_status hs_s = us_safetensors_parse_header(data, size, size, &hs, &herr);
    FUZZ_CHECK(hs_s == s);
    if (s == US_OK) FUZZ_CHECK(same_table(&st, &hs) && hs.data == st.data);
    else FUZZ_CHECK(st_empty(&hs) && strcmp(err.message, herr.message) == 0);
    us_safetensors_free(&hs);

    /* ... and on a copy of just the prefix and header, the rest of the file
     * existing only as a length. */
    if (size >= 8) {
        uint64_t n = 0;
        for (int i = 7; i >= 0; i--) n = n << 8 | data[i];
        if (n <= size - 8) {
            size_t avail = 8 + (size_t)n;
            uint8_t *head = malloc(avail);
            FUZZ_CHECK(head != NULL);
            memcpy(head, data, avail);
            hs_s = us_safetensors_parse_header(head, avail, size, &hs, &herr);
            FUZZ_CHECK(hs_s == s);
            if (s == US_OK) FUZZ_CHECK(same_table(&st, &hs) && hs.data == (avail == size ? head + avail : NULL));
            else FUZZ_CHECK(st_empty(&hs));
            us_safetensors_free(&hs);
            free(head);
        }
    }
    us_safetensors_free(&st);
    return 0;
}
