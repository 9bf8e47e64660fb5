/* fuzz_shard_index.c — us_shard_index_parse on arbitrary bytes
 * (model.safetensors.index.json).
 *
 * Checks: a failure leaves the index empty and says why; a success maps every
 * tensor (named once, no NUL) to one of the distinct files, every file is
 * used, and every file name passes an independent statement of the
 * plain-relative-name rule, so no accepted name can leave the model folder. */
#include <string.h>

#include "fuzz.h"
#include "unseal.h"

/* The rule, written again from its description rather than from the code. */
static int plain_name(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || s[0] == '/') return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f || c == '\\') return 0;
        if (c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 && (unsigned char)s[i + 1] < 0xa0) return 0;
    }
    const char *colon = strchr(s, ':');
    if (colon) { /* a scheme is a letter, then letters, digits, '+', '-', '.' */
        int scheme = (s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z');
        for (const char *p = s + 1; scheme && p < colon; p++)
            scheme = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.", *p) != NULL;
        if (scheme) return 0;
    }
    int ok = 1;
    for (const char *seg = s; ok; seg++) { /* each '/'-separated segment */
        const char *end = strchr(seg, '/');
        size_t len = end ? (size_t)(end - seg) : strlen(seg);
        ok = len > 0 && !(len == 1 && seg[0] == '.') && !(len == 2 && seg[0] == '.' && seg[1] == '.');
        if (!end) break;
        seg = end;
    }
    return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    us_shard_index idx;
    us_error err = {0};
    us_status s = us_shard_index_parse((const char *)data, size, &idx, &err);
    if (s != US_OK) {
        FUZZ_CHECK(idx.n_files == 0 && !idx.files && idx.n_tensors == 0 && !idx.tensors);
        FUZZ_CHECK(err.code == s && err.message[0]);
        return 0;
    }
    FUZZ_CHECK(idx.n_files >= 0 && idx.n_files <= idx.n_tensors);
    char *used = calloc((size_t)idx.n_files + 1, 1);
    FUZZ_CHECK(used != NULL);
    for (int32_t i = 0; i < idx.n_files; i++) {
        FUZZ_CHECK(plain_name(idx.files[i]));
        for (int32_t j = 0; j < i; j++) FUZZ_CHECK(strcmp(idx.files[i], idx.files[j]) != 0);
    }
    int32_t next = 0; /* files appear in the order tensors first name them */
    for (int32_t i = 0; i < idx.n_tensors; i++) {
        int32_t f = idx.tensors[i].file;
        FUZZ_CHECK(idx.tensors[i].name && f >= 0 && f < idx.n_files);
        if (!used[f]) FUZZ_CHECK(f == next++);
        used[f] = 1;
        for (int32_t j = 0; j < i && idx.n_tensors < 512; j++)
            FUZZ_CHECK(strcmp(idx.tensors[i].name, idx.tensors[j].name) != 0);
    }
    for (int32_t i = 0; i < idx.n_files; i++) FUZZ_CHECK(used[i]);
    free(used);
    us_shard_index_free(&idx);
    return 0;
}
