/* test_safetensors.c — the safetensors reader: valid files built in memory by
 * a tiny writer, a table of malformed files (each checked for its exact
 * status and a message naming the fact at fault), and robustness sweeps
 * (every truncation, many one-byte mutations) meant to run under
 * ASan/UBSan/LSan. Every file lives in a heap block of exactly its size, so
 * any read past the end is caught. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "unseal.h"

/* ---------------------------------------------------------------- writer */

typedef struct blob {
    uint8_t *buf; /* owned, exactly len bytes (at least 1 allocated) */
    size_t len;
} blob;

static blob blob_alloc(size_t len) {
    blob b = {malloc(len ? len : 1), len};
    return b;
}

static void put_u64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* A file with `json` as header, padded with spaces to a multiple of 8 as
 * real writers do, then data_len bytes (byte i = i * 7 + 1). */
static blob st_file(const char *json, size_t data_len) {
    size_t jl = strlen(json), padded = (jl + 7) / 8 * 8;
    blob b = blob_alloc(8 + padded + data_len);
    put_u64(b.buf, padded);
    memcpy(b.buf + 8, json, jl);
    memset(b.buf + 8 + jl, ' ', padded - jl);
    for (size_t i = 0; i < data_len; i++) b.buf[8 + padded + i] = (uint8_t)(i * 7 + 1);
    return b;
}

/* A file whose length prefix says n_field, followed by nbytes raw bytes. */
static blob st_raw(uint64_t n_field, const void *bytes, size_t nbytes) {
    blob b = blob_alloc(8 + nbytes);
    put_u64(b.buf, n_field);
    if (nbytes) memcpy(b.buf + 8, bytes, nbytes);
    return b;
}

static int is_empty(const us_safetensors *st) {
    return st->n_entries == 0 && st->entries == NULL && st->data == NULL && st->data_len == 0 &&
           st->header_len == 0 && st->metadata_json == NULL;
}

/* ---------------------------------------------------------------- valid files */

static void test_basic(void) {
    const char *json =
        "{\"__metadata__\":{\"format\":\"pt\",\"note\":\"a\\\"b\"},"
        "\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
        "\"b\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[24,32]}}";
    blob f = st_file(json, 32);
    us_safetensors st;
    us_error err = {0};
    REQUIRE(us_safetensors_parse(f.buf, f.len, &st, &err) == US_OK);
    CHECK(st.n_entries == 2);
    CHECK(st.header_len == (strlen(json) + 7) / 8 * 8);
    CHECK(st.data == f.buf + 8 + st.header_len);
    CHECK(st.data_len == 32);
    CHECK(strcmp(st.entries[0].name, "w") == 0);
    CHECK(st.entries[0].dtype == US_F32 && st.entries[0].ndim == 2);
    CHECK(st.entries[0].shape[0] == 2 && st.entries[0].shape[1] == 3);
    CHECK(st.entries[0].begin == 0 && st.entries[0].end == 24);
    CHECK(strcmp(st.entries[1].name, "b") == 0);
    CHECK(st.entries[1].dtype == US_F16 && st.entries[1].ndim == 1 && st.entries[1].shape[0] == 4);
    CHECK(st.entries[1].begin == 24 && st.entries[1].end == 32);
    REQUIRE(st.metadata_json != NULL);
    CHECK(strcmp(st.metadata_json, "{\"format\":\"pt\",\"note\":\"a\\\"b\"}") == 0);
    CHECK(us_safetensors_find(&st, "w") == 0);
    CHECK(us_safetensors_find(&st, "b") == 1);
    CHECK(us_safetensors_find(&st, "nope") == -1);
    CHECK(us_safetensors_find(&st, NULL) == -1);
    CHECK(us_safetensors_find(NULL, "w") == -1);
    /* The data is reachable through st.data, and converts (unaligned-safe). */
    float out[4];
    CHECK(us_convert_to_f32(out, st.data + st.entries[1].begin, US_F16, 4) == US_OK);
    CHECK(st.data[0] == 1 && st.data[1] == 8);
    us_safetensors_free(&st);
    CHECK(is_empty(&st));
    us_safetensors_free(&st); /* a second free is harmless */
    us_safetensors_free(NULL);
    free(f.buf);
}

/* entries follow the JSON order, not the data order. */
static void test_file_order(void) {
    blob f = st_file("{\"z\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[8,16]},"
                     "\"a\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
                     16);
    us_safetensors st;
    REQUIRE(us_safetensors_parse(f.buf, f.len, &st, NULL) == US_OK);
    REQUIRE(st.n_entries == 2);
    CHECK(strcmp(st.entries[0].name, "z") == 0 && st.entries[0].dtype == US_I64);
    CHECK(strcmp(st.entries[1].name, "a") == 0 && st.entries[1].dtype == US_I32);
    CHECK(st.metadata_json == NULL);
    us_safetensors_free(&st);
    free(f.buf);
}

/* Scalars, zero-size tensors (several at one offset), BF16, whitespace. */
static void test_edge_shapes(void) {
    blob f = st_file(" \n\t{ \"s\" : { \"shape\" : [ ] , \"dtype\" : \"BF16\" , "
                     "\"data_offsets\" : [ 0 , 2 ] } ,\r\n"
                     "\"e1\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[2,2]},"
                     "\"e2\":{\"dtype\":\"F32\",\"shape\":[3,0,2147483647],\"data_offsets\":[2,2]},"
                     "\"e3\":{\"dtype\":\"I64\",\"shape\":[0],\"data_offsets\":[6,6]},"
                     "\"v\":{\"dtype\":\"F16\",\"shape\":[1,1,1,1,1,1,1,2],\"data_offsets\":[2,6]}}\n",
                     6);
    us_safetensors st;
    us_error err = {0};
    REQUIRE(us_safetensors_parse(f.buf, f.len, &st, &err) == US_OK);
    REQUIRE(st.n_entries == 5);
    CHECK(st.entries[0].ndim == 0 && st.entries[0].dtype == US_BF16);
    CHECK(st.entries[1].ndim == 2 && st.entries[1].shape[0] == 0 && st.entries[1].begin == 2);
    CHECK(st.entries[2].shape[2] == 2147483647);
    CHECK(st.entries[3].begin == 6 && st.entries[3].end == 6);
    CHECK(st.entries[4].ndim == US_MAX_DIMS && st.entries[4].shape[7] == 2);
    us_safetensors_free(&st);
    free(f.buf);

    /* An empty header and no data is a valid, empty file. */
    blob e = st_file("{}", 0);
    REQUIRE(us_safetensors_parse(e.buf, e.len, &st, &err) == US_OK);
    CHECK(st.n_entries == 0 && st.data_len == 0 && st.header_len == 8);
    us_safetensors_free(&st);
    free(e.buf);

    /* Unpadded header (N not a multiple of 8) is accepted too. */
    const char *j = "{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
    uint8_t tmp[256];
    memcpy(tmp, j, strlen(j));
    memset(tmp + strlen(j), 0, 4);
    blob u = st_raw(strlen(j), tmp, strlen(j) + 4);
    REQUIRE(us_safetensors_parse(u.buf, u.len, &st, &err) == US_OK);
    CHECK(st.header_len == strlen(j) && st.data_len == 4);
    us_safetensors_free(&st);
    free(u.buf);
}

/* Names are fully unescaped: \uXXXX (and surrogate pairs) become UTF-8. */
static void test_escaped_names(void) {
    blob f = st_file("{\"a\\u00e9\\ud83d\\ude00\\n\\\"\\/\\\\\":"
                     "{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},"
                     "\"\xe6\x97\xa5\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[4,8]},"
                     "\"\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,8]}}",
                     8);
    us_safetensors st;
    us_error err = {0};
    REQUIRE(us_safetensors_parse(f.buf, f.len, &st, &err) == US_OK);
    REQUIRE(st.n_entries == 3);
    CHECK(strcmp(st.entries[0].name, "a\xc3\xa9\xf0\x9f\x98\x80\n\"/\\") == 0);
    CHECK(us_safetensors_find(&st, "a\xc3\xa9\xf0\x9f\x98\x80\n\"/\\") == 0);
    CHECK(us_safetensors_find(&st, "\xe6\x97\xa5") == 1);
    CHECK(us_safetensors_find(&st, "") == 2);
    us_safetensors_free(&st);
    free(f.buf);
}

/* Many tensors: exercises growth of the JSON arrays and the sorted checks. */
static void test_many_tensors(void) {
    enum { N = 2000 };
    size_t cap = (size_t)N * 80 + 16, pos = 0;
    char *json = malloc(cap);
    REQUIRE(json != NULL);
    pos += (size_t)snprintf(json + pos, cap - pos, "{");
    /* Listed in reverse data order so the coverage check must sort. */
    for (int i = N - 1; i >= 0; i--)
        pos += (size_t)snprintf(json + pos, cap - pos,
                                "%s\"t%d\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[%d,%d]}",
                                i == N - 1 ? "" : ",", i, 8 * i, 8 * i + 8);
    snprintf(json + pos, cap - pos, "}");
    blob f = st_file(json, (size_t)N * 8);
    us_safetensors st;
    us_error err = {0};
    CHECK(us_safetensors_parse(f.buf, f.len, &st, &err) == US_OK);
    CHECK(st.n_entries == N);
    CHECK(us_safetensors_find(&st, "t0") == N - 1);
    CHECK(us_safetensors_find(&st, "t1999") == 0);
    us_safetensors_free(&st);
    free(f.buf);
    free(json);
}

/* A header whose __metadata__ holds 200000 keys. The duplicate-key check
 * used to compare every pair: a 3 MB header then took minutes (and the
 * format allows 100 MB), so a small file could hang a loader. Sorted, it
 * takes milliseconds. The first fault in member order is still the one
 * reported. */
static void test_many_metadata_keys(void) {
    enum { N = 200000 };
    size_t cap = (size_t)N * 16 + 64, pos = 0;
    char *json = malloc(cap);
    REQUIRE(json != NULL);
    clock_t start = clock();
    for (int variant = 0; variant < 3; variant++) {
        pos = (size_t)snprintf(json, cap, "{\"__metadata__\":{");
        for (int i = 0; i < N; i++)
            pos += (size_t)snprintf(json + pos, cap - pos, "%s\"k%07d\":\"\"", i ? "," : "", i);
        if (variant == 1) /* a duplicate, then a non-string: the duplicate comes first */
            pos += (size_t)snprintf(json + pos, cap - pos, ",\"k0000007\":\"\",\"k0000003\":\"\",\"z\":1");
        if (variant == 2) /* a non-string, then duplicates */
            pos += (size_t)snprintf(json + pos, cap - pos, ",\"z\":1,\"k0000007\":\"\"");
        snprintf(json + pos, cap - pos, "}}");
        blob f = st_file(json, 0);
        us_safetensors st;
        us_error err = {0};
        us_status s = us_safetensors_parse(f.buf, f.len, &st, &err);
        if (variant == 0) {
            CHECK(s == US_OK && st.metadata_json != NULL);
            us_safetensors_free(&st);
        } else if (variant == 1) {
            CHECK(s == US_ERR_FORMAT && strstr(err.message, "__metadata__ key \"k0000007\" appears twice"));
        } else {
            CHECK(s == US_ERR_FORMAT && strstr(err.message, "__metadata__ value of \"z\" is a number"));
        }
        free(f.buf);
    }
    double secs = (double)(clock() - start) / CLOCKS_PER_SEC;
    if (secs > 5.0) fprintf(stderr, "  200000 metadata keys took %.2f s\n", secs);
    CHECK(secs < 5.0); /* quadratic: minutes */
    free(json);
}

static void test_bad_args(void) {
    us_error err = {0};
    us_safetensors st;
    CHECK(us_safetensors_parse(NULL, 10, &st, &err) == US_ERR_INVALID_ARG);
    CHECK(is_empty(&st));
    uint8_t b[16] = {0};
    CHECK(us_safetensors_parse(b, sizeof b, NULL, &err) == US_ERR_INVALID_ARG);
    CHECK(us_safetensors_parse(NULL, 0, &st, &err) == US_ERR_FORMAT);
}

/* ---------------------------------------------------------------- malformed files */

#define ENTRY(name, dt, shape, off) "\"" name "\":{\"dtype\":\"" dt "\",\"shape\":" shape ",\"data_offsets\":" off "}"

typedef struct bad_case {
    const char *label;
    const char *json;    /* header text, padded by st_file; or NULL to use raw */
    size_t data_len;
    const char *raw;     /* raw bytes after the prefix (raw_len of them) */
    size_t raw_len;
    uint64_t n_field;    /* the prefix, for raw cases */
    size_t total_len;    /* for raw cases with raw == NULL: a file of this many zero bytes */
    us_status code;
    const char *needle1; /* must appear in err.message */
    const char *needle2; /* likewise, if not NULL */
} bad_case;

static const bad_case bad_cases[] = {
    /* -- the length prefix */
    {"empty file", NULL, 0, NULL, 0, 0, 0, US_ERR_FORMAT, "0 bytes", "8-byte"},
    {"5-byte file", NULL, 0, NULL, 0, 0, 5, US_ERR_FORMAT, "5 bytes", "shorter"},
    {"absurd N", NULL, 0, "{}", 2, 1ull << 40, 0, US_ERR_FORMAT, "absurd", "1099511627776"},
    {"N just over 100 MB", NULL, 0, "{}", 2, 100000001ull, 0, US_ERR_FORMAT, "absurd", "100000001"},
    {"N past end of file", NULL, 0, "{\"a\":1}", 7, 100, 0, US_ERR_FORMAT, "100", "7 bytes"},
    {"N = 0", NULL, 0, "", 0, 0, 0, US_ERR_FORMAT, "not valid JSON", "end of input"},
    /* -- UTF-8 and JSON syntax */
    {"bad UTF-8 byte", NULL, 0, "{\"a\xff\":1}", 7, 7, 0, US_ERR_FORMAT, "UTF-8", "header byte 3 (file byte 11"},
    {"overlong UTF-8", NULL, 0, "{\"\xc0\xaf\":1}", 8, 8, 0, US_ERR_FORMAT, "UTF-8", "header byte 2"},
    {"UTF-8 surrogate", NULL, 0, "{\"\xed\xa0\x80\":1}", 9, 9, 0, US_ERR_FORMAT, "UTF-8", "header byte 2"},
    {"truncated UTF-8", NULL, 0, "{\"\xe6\x97", 4, 4, 0, US_ERR_FORMAT, "UTF-8", "header byte 2"},
    {"missing brace", "{" ENTRY("a", "F32", "[1]", "[0,4]"), 4, NULL, 0, 0, 0, US_ERR_FORMAT, "not valid JSON", "expected ',' or '}'"},
    {"trailing comma", "{" ENTRY("a", "F32", "[1]", "[0,4]") ",}", 4, NULL, 0, 0, 0, US_ERR_FORMAT, "expected a string key", "header byte 54 (file byte 62)"},
    {"trailing garbage", "{" ENTRY("a", "F32", "[1]", "[0,4]") "} x", 4, NULL, 0, 0, 0, US_ERR_FORMAT, "after the JSON value", "header byte 55 (file byte 63) near \"x\""},
    {"two objects", "{}{}", 0, NULL, 0, 0, 0, US_ERR_FORMAT, "after the JSON value", "header byte 2"},
    {"NUL padding", NULL, 0, "{}\0\0\0\0\0\0", 8, 8, 0, US_ERR_FORMAT, "after the JSON value", "header byte 2"},
    {"top level array", "[]", 0, NULL, 0, 0, 0, US_ERR_FORMAT, "top level", "array"},
    {"top level string", "\"x\"", 0, NULL, 0, 0, 0, US_ERR_FORMAT, "top level", "string"},
    {"single quotes", "{'a':1}", 0, NULL, 0, 0, 0, US_ERR_FORMAT, "not valid JSON", "header byte 1"},
    {"leading zero", "{" ENTRY("a", "F32", "[01]", "[0,4]") "}", 4, NULL, 0, 0, 0, US_ERR_FORMAT, "leading zero", NULL},
    {"NaN literal", "{" ENTRY("a", "F32", "[NaN]", "[0,4]") "}", 4, NULL, 0, 0, 0, US_ERR_FORMAT, "unexpected character", NULL},
    {"unterminated string", "{\"abc", 0, NULL, 0, 0, 0, US_ERR_FORMAT, "unterminated string", "header byte 1"},
    {"bad escape", "{\"a\\x\":1}", 0, NULL, 0, 0, 0, US_ERR_FORMAT, "invalid escape", "header byte 3"},
    {"short \\u escape", "{\"a\\u00g1\":1}", 0, NULL, 0, 0, 0, US_ERR_FORMAT, "four hex digits", NULL},
    {"lone high surrogate", "{\"\\ud800x\":1}", 0, NULL, 0, 0, 0, US_ERR_FORMAT, "high surrogate", NULL},
    {"high surrogate + non-low", "{\"\\ud800\\u0041\":1}", 0, NULL, 0, 0, 0, US_ERR_FORMAT, "high surrogate", NULL},
    {"lone low surrogate", "{\"\\udc00\":1}", 0, NULL, 0, 0, 0, US_ERR_FORMAT, "low surrogate", NULL},
    {"control char in name", "{\"a\tb\":{}}", 0, NULL, 0, 0, 0, US_ERR_FORMAT, "control character", "header byte 3"},
    {"deep nesting", "{\"__metadata__\":{\"k\":[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]}}", 0, NULL, 0, 0, 0, US_ERR_FORMAT, "nesting", NULL},
    /* -- structure of entries */
    {"entry not an object", "{\"a\":[1]}", 0, NULL, 0, 0, 0, US_ERR_FORMAT, "\"a\"", "not an object"},
    {"duplicate names", "{" ENTRY("w", "F32", "[1]", "[0,4]") "," ENTRY("w", "F32", "[1]", "[4,8]") "}", 8, NULL, 0, 0, 0, US_ERR_FORMAT, "duplicate tensor name \"w\"", NULL},
    {"duplicate via escape", "{" ENTRY("w", "F32", "[1]", "[0,4]") "," ENTRY("\\u0077", "F32", "[1]", "[4,8]") "}", 8, NULL, 0, 0, 0, US_ERR_FORMAT, "duplicate tensor name \"w\"", NULL},
    {"NUL in name", "{" ENTRY("a\\u0000b", "F32", "[1]", "[0,4]") "}", 4, NULL, 0, 0, 0, US_ERR_FORMAT, "NUL", "header byte 1"},
    {"unknown key", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"offsets\":1}}", 4, NULL, 0, 0, 0, US_ERR_FORMAT, "\"a\"", "unknown key \"offsets\""},
    {"key twice", "{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, NULL, 0, 0, 0, US_ERR_FORMAT, "\"a\"", "\"dtype\" appears twice"},
    {"missing dtype", "{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, NULL, 0, 0, 0, US_ERR_FORMAT, "\"a\"", "missing \"dtype\""},
    {"missing shape", "{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, NULL, 0, 0, 0, US_ERR_FORMAT, "\"a\"", "missing \"shape\""},
    {"missing data_offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, NULL, 0, 0, 0, US_ERR_FORMAT, "\"a\"", "missing \"data_offsets\""},
    /* -- dtypes */
    {"unknown dtype", "{" ENTRY("a", "F33", "[1]", "[0,4]") "}", 4, NULL, 0, 0, 0, US_ERR_FORMAT, "\"a\"", "unknown dtype \"F33\""},
    {"lowercase dtype", "{" ENTRY("a", "f32", "[1]", "[0,4]") "}", 4, NULL, 0, 0, 0, US_ERR_FORMAT, "\"a\"", "\"f32\""},
    {"F64 unsupported", "{" ENTRY("dbl", "F64", "[1]", "[0,8]") "}", 8, NULL, 0, 0, 0, US_ERR_DTYPE, "\"dbl\"", "F64"},
    {"BOOL unsupported", "{" ENTRY("mask", "BOOL", "[4]", "[0,4]") "}", 4, NULL, 0, 0, 0, US_ERR_DTYPE, "\"mask\"", "BOOL"},
    {"U8 unsupported", "{" ENTRY("ids", "U8", "[4]", "[0,4]") "}", 4, NULL, 0, 0, 0, US_ERR_DTYPE, "\"ids\"", "U8"},
    {"dtype not a string", "{\"a\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, NULL, 0, 0, 0, US_ERR_FORMAT, "\"a\"", "dtype is a number"},
    /* -- shapes */
    {"shape not a list", "{" ENTRY("a", "F32", "4", "[0,16]") "}", 16, NULL, 0, 0, 0, US_ERR_FORMAT, "\"a\"", "shape is a number"},
    {"negative dim", "{" ENTRY("a", "F32", "[-1]", "[0,4]") "}", 4, NULL, 0, 0, 0, US_ERR_FORMAT, "\"a\"", "dimension 0 is negative"},
    {"negative zero dim", "{" ENTRY("a", "F32", "[-0]", "[0,0]") "}", 0, NULL, 0, 0, 0, US_ERR_FORMAT, "\"a\"", "negative"},
    {"fractional dim", "{" ENTRY("a", "F32", "[2,2.0]", "[0,16]") "}", 16, NULL, 0, 0, 0, US_ERR_FORMAT, "\"a\"", "dimension 1 has a fraction"},
    {"exponent dim", "{" ENTRY("a", "F32", "[1e1]", "[0,40]") "}", 40, NULL, 0, 0, 0, US_ERR_FORMAT, "\"a\"", "exponent"},
    {"string dim", "{" ENTRY("a", "F32", "[\"2\"]", "[0,8]") "}", 8, NULL, 0, 0, 0, US_ERR_FORMAT, "\"a\"", "not a number"},
    {"9 dims", "{" ENTRY("a", "F32", "[1,1,1,1,1,1,1,1,1]", "[0,4]") "}", 4, NULL, 0, 0, 0, US_ERR_FORMAT, "\"a\"", "9 dimensions"},
    {"dim over int32", "{" ENTRY("a", "F32", "[3000000000]", "[0,12000000000]") "}", 0, NULL, 0, 0, 0, US_ERR_FORMAT, "\"a\"", "3000000000"},
    {"dim over 2^53", "{" ENTRY("a", "F32", "[9007199254740993]", "[0,4]") "}", 4, NULL, 0, 0, 0, US_ERR_FORMAT, "\"a\"", "2^53"},
    {"dim over 2^64", "{" ENTRY("a", "F32", "[123456789012345678901234567890]", "[0,4]") "}", 4, NULL, 0, 0, 0, US_ERR_FORMAT, "\"a\"", "2^53"},
    {"numel over int32", "{" ENTRY("big", "F32", "[65536,65536]", "[0,17179869184]") "}", 0, NULL, 0, 0, 0, US_ERR_FORMAT, "\"big\"", "[65536, 65536]"},
    {"numel overflows u64", "{" ENTRY("big", "I64", "[2147483647,2147483647,2147483647,2147483647,2147483647]", "[0,8]") "}", 8, NULL, 0, 0, 0, US_ERR_FORMAT, "\"big\"", "more than 2^31-1 elements"},
    /* -- offsets */
    {"offsets one int", "{" ENTRY("a", "F32", "[1]", "[4]") "}", 4, NULL, 0, 0, 0, US_ERR_FORMAT, "\"a\"", "two integers"},
    {"offsets three ints", "{" ENTRY("a", "F32", "[1]", "[0,4,8]") "}", 4, NULL, 0, 0, 0, US_ERR_FORMAT, "\"a\"", "two integers"},
    {"offsets not a list", "{" ENTRY("a", "F32", "[1]", "{}") "}", 4, NULL, 0, 0, 0, US_ERR_FORMAT, "\"a\"", "data_offsets"},
    {"begin > end", "{" ENTRY("a", "F32", "[0]", "[8,4]") "}", 8, NULL, 0, 0, 0, US_ERR_FORMAT, "\"a\"", "[8, 4] has begin > end"},
    {"negative offset", "{" ENTRY("a", "F32", "[1]", "[-4,0]") "}", 4, NULL, 0, 0, 0, US_ERR_FORMAT, "\"a\"", "begin is negative"},
    {"fractional offset", "{" ENTRY("a", "F32", "[1]", "[0,4.5]") "}", 4, NULL, 0, 0, 0, US_ERR_FORMAT, "\"a\"", "end has a fraction"},
    {"offset over 2^53", "{" ENTRY("a", "F32", "[1]", "[9007199254740993,9007199254740997]") "}", 4, NULL, 0, 0, 0, US_ERR_FORMAT, "\"a\"", "2^53"},
    {"size mismatch", "{" ENTRY("w", "F32", "[2,2]", "[0,12]") "}", 12, NULL, 0, 0, 0, US_ERR_SHAPE, "\"w\": shape [2, 2] of dtype F32 needs 16 bytes", "span 12 bytes"},
    {"size mismatch f16", "{" ENTRY("h", "F16", "[3]", "[0,12]") "}", 12, NULL, 0, 0, 0, US_ERR_SHAPE, "\"h\"", "F16 needs 6 bytes"},
    {"scalar size mismatch", "{" ENTRY("s", "I64", "[]", "[0,4]") "}", 4, NULL, 0, 0, 0, US_ERR_SHAPE, "\"s\"", "[] of dtype I64 needs 8 bytes"},
    {"end beyond data", "{" ENTRY("a", "F32", "[4]", "[0,16]") "}", 12, NULL, 0, 0, 0, US_ERR_FORMAT, "\"a\"", "[0, 16] reach beyond the end of the data section (12 bytes)"},
    {"zero-size beyond data", "{" ENTRY("a", "F32", "[1]", "[0,4]") "," ENTRY("z", "F32", "[0]", "[100,100]") "}", 4, NULL, 0, 0, 0, US_ERR_FORMAT, "\"z\"", "beyond"},
    {"overlap", "{" ENTRY("a", "F32", "[2]", "[0,8]") "," ENTRY("b", "F32", "[2]", "[4,12]") "}", 12, NULL, 0, 0, 0, US_ERR_FORMAT, "\"a\" [0, 8] and \"b\" [4, 12] overlap", NULL},
    {"same range twice", "{" ENTRY("a", "F32", "[2]", "[0,8]") "," ENTRY("b", "I32", "[2]", "[0,8]") "}", 8, NULL, 0, 0, 0, US_ERR_FORMAT, "overlap", "\"b\""},
    {"zero-size inside another", "{" ENTRY("a", "F32", "[2]", "[0,8]") "," ENTRY("z", "F32", "[0]", "[4,4]") "}", 8, NULL, 0, 0, 0, US_ERR_FORMAT, "overlap", "\"z\""},
    {"gap", "{" ENTRY("a", "F32", "[1]", "[0,4]") "," ENTRY("b", "F32", "[1]", "[8,12]") "}", 12, NULL, 0, 0, 0, US_ERR_FORMAT, "[4, 8)", "\"b\""},
    {"gap at start", "{" ENTRY("a", "F32", "[1]", "[4,8]") "}", 8, NULL, 0, 0, 0, US_ERR_FORMAT, "gap", "[0, 4)"},
    {"trailing data", "{" ENTRY("a", "F32", "[1]", "[0,4]") "}", 8, NULL, 0, 0, 0, US_ERR_FORMAT, "trailing", "[4, 8)"},
    {"data but no tensors", "{}", 3, NULL, 0, 0, 0, US_ERR_FORMAT, "3 bytes", "incomplete"},
    /* -- __metadata__ */
    {"metadata not an object", "{\"__metadata__\":[\"a\"]}", 0, NULL, 0, 0, 0, US_ERR_FORMAT, "__metadata__ is an array", NULL},
    {"metadata null", "{\"__metadata__\":null}", 0, NULL, 0, 0, 0, US_ERR_FORMAT, "__metadata__", "null"},
    {"metadata number value", "{\"__metadata__\":{\"epochs\":3}}", 0, NULL, 0, 0, 0, US_ERR_FORMAT, "\"epochs\"", "number"},
    {"metadata object value", "{\"__metadata__\":{\"cfg\":{\"a\":\"b\"}}}", 0, NULL, 0, 0, 0, US_ERR_FORMAT, "\"cfg\" is an object", NULL},
    {"metadata duplicate key", "{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0, NULL, 0, 0, 0, US_ERR_FORMAT, "\"k\"", "twice"},
    {"metadata twice", "{\"__metadata__\":{},\"__metadata__\":{}}", 0, NULL, 0, 0, 0, US_ERR_FORMAT, "__metadata__", "twice"},
};

static blob bad_case_file(const bad_case *c) {
    if (c->json) return st_file(c->json, c->data_len);
    if (c->raw) return st_raw(c->n_field, c->raw, c->raw_len);
    blob b = blob_alloc(c->total_len);
    if (c->total_len) memset(b.buf, 0, c->total_len);
    return b;
}

static void test_malformed_table(void) {
    size_t n = sizeof bad_cases / sizeof bad_cases[0];
    CHECK(n >= 25);
    for (size_t i = 0; i < n; i++) {
        const bad_case *c = &bad_cases[i];
        blob f = bad_case_file(c);
        us_safetensors st;
        us_error err = {0};
        us_status s = us_safetensors_parse(f.buf, f.len, &st, &err);
        int ok = s == c->code && err.code == c->code && strstr(err.message, c->needle1) &&
                 (!c->needle2 || strstr(err.message, c->needle2)) && is_empty(&st);
        if (!ok) {
            fprintf(stderr, "  case \"%s\": got %s \"%s\", want %s with \"%s\"%s%s%s\n", c->label,
                    us_status_name(s), err.message, us_status_name(c->code), c->needle1,
                    c->needle2 ? " and \"" : "", c->needle2 ? c->needle2 : "",
                    c->needle2 ? "\"" : "");
            us_h_cur_failed = 1;
        }
        /* err may be NULL: the same status, no crash. */
        CHECK(us_safetensors_parse(f.buf, f.len, &st, NULL) == c->code);
        us_safetensors_free(&st);
        free(f.buf);
    }
}

/* ---------------------------------------------------------------- seed corpus */

#ifndef __EMSCRIPTEN__
/* Reads a whole file into an exact-size blob; buf is NULL if it cannot. */
static blob read_file(const char *path) {
    blob b = {NULL, 0};
    FILE *fp = fopen(path, "rb");
    if (!fp) return b;
    if (fseek(fp, 0, SEEK_END) == 0) {
        long n = ftell(fp);
        if (n >= 0 && fseek(fp, 0, SEEK_SET) == 0) {
            b = blob_alloc((size_t)n);
            if (b.buf && fread(b.buf, 1, b.len, fp) != b.len) {
                free(b.buf);
                b.buf = NULL;
            }
        }
    }
    fclose(fp);
    return b;
}

/* The files in tests/data/safetensors were written by Python (json + struct,
 * whose "e" format is an f16 encoder independent of ours). Needs the
 * repository root as working directory (ctest sets it) and fails otherwise.
 * Not built into the WebAssembly test programs: standalone wasm has no file
 * system (the JS tests read real files through the same parser instead). */
static void test_seed_corpus(void) {
    const char *dir = "tests/data/safetensors/";
    char path[256];
    snprintf(path, sizeof path, "%smixed_dtypes.safetensors", dir);
    blob f = read_file(path);
    if (!f.buf) fprintf(stderr, "  %s is not readable: run from the repository root\n", path);
    REQUIRE(f.buf != NULL);
    us_safetensors st;
    us_error err = {0};
    us_status s = us_safetensors_parse(f.buf, f.len, &st, &err);
    if (s != US_OK) fprintf(stderr, "  %s: %s\n", path, err.message);
    REQUIRE(s == US_OK);
    CHECK(st.n_entries == 7);
    int32_t h = us_safetensors_find(&st, "h"), b = us_safetensors_find(&st, "b");
    int32_t sc = us_safetensors_find(&st, "scalar"), e = us_safetensors_find(&st, "empty");
    int32_t u = us_safetensors_find(&st, "caf\xc3\xa9 \xf0\x9f\x98\x80");
    CHECK(h == 0 && b == 1 && sc == 4 && e == 5 && u == 6);
    if (h == 0 && b == 1 && sc == 4 && e == 5) {
        float v[2];
        CHECK(us_convert_to_f32(v, st.data + st.entries[h].begin, US_F16, 2) == US_OK);
        CHECK(v[0] == 1.0f && v[1] == -2.5f);
        CHECK(us_convert_to_f32(v, st.data + st.entries[b].begin, US_BF16, 2) == US_OK);
        CHECK(v[0] == 1.0f && v[1] == -2.5f);
        CHECK(us_convert_to_f32(v, st.data + st.entries[sc].begin, US_F32, 1) == US_OK);
        CHECK(v[0] == 3.0f && st.entries[sc].ndim == 0);
        CHECK(st.entries[e].begin == st.entries[e].end && st.entries[e].shape[0] == 0);
        CHECK(st.entries[2].dtype == US_I32 && st.entries[3].dtype == US_I64);
    }
    CHECK(st.metadata_json && strcmp(st.metadata_json,
                                     "{\"note\":\"seed for fuzzing\",\"quote\":\"a\\\"b\"}") == 0);
    us_safetensors_free(&st);
    free(f.buf);

    static const char *const others[] = {"mlp_f32.safetensors", "empty.safetensors"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s%s", dir, others[i]);
        f = read_file(path);
        CHECK(f.buf != NULL);
        if (!f.buf) continue;
        s = us_safetensors_parse(f.buf, f.len, &st, &err);
        if (s != US_OK) fprintf(stderr, "  %s: %s\n", path, err.message);
        CHECK(s == US_OK);
        CHECK(st.n_entries == (i == 0 ? 2 : 0));
        us_safetensors_free(&st);
        free(f.buf);
    }
}

#endif

/* ---------------------------------------------------------------- robustness sweeps */

static const char *sweep_json =
    "{\"__metadata__\":{\"format\":\"pt\",\"x\":\"\\u00e9\\ud83d\\ude00\"},"
    "\"layer.0.weight\":{\"dtype\":\"BF16\",\"shape\":[2,2],\"data_offsets\":[0,8]},"
    "\"b\\n\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[8,12]},"
    "\"z\":{\"dtype\":\"I64\",\"shape\":[0,5],\"data_offsets\":[12,12]},"
    "\"ids\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[12,16]}}";

/* Invariants any successful parse must satisfy. */
static int check_invariants(const us_safetensors *st, size_t len) {
    if (st->header_len + 8 + st->data_len != len) return 0;
    uint64_t total = 0;
    for (int32_t i = 0; i < st->n_entries; i++) {
        const us_st_entry *e = &st->entries[i];
        if (!e->name || e->ndim < 0 || e->ndim > US_MAX_DIMS) return 0;
        if (e->begin > e->end || e->end > st->data_len) return 0;
        us_tensor t = us_tensor_make(e->dtype, NULL, e->ndim, e->shape);
        if ((uint64_t)us_tensor_numel(&t) * us_dtype_size(e->dtype) != e->end - e->begin) return 0;
        if (us_safetensors_find(st, e->name) != i) return 0;
        total += e->end - e->begin;
    }
    return total == st->data_len;
}

/* Every proper prefix of a valid file is rejected, without reading past it. */
static void test_every_truncation(void) {
    blob f = st_file(sweep_json, 16);
    us_safetensors st;
    us_error err = {0};
    REQUIRE(us_safetensors_parse(f.buf, f.len, &st, &err) == US_OK);
    CHECK(check_invariants(&st, f.len));
    CHECK(st.n_entries == 4);
    us_safetensors_free(&st);
    int accepted = 0;
    for (size_t cut = 0; cut < f.len; cut++) {
        blob t = blob_alloc(cut);
        memcpy(t.buf, f.buf, cut);
        if (us_safetensors_parse(t.buf, t.len, &st, &err) == US_OK) accepted++;
        CHECK(err.message[0] != '\0');
        us_safetensors_free(&st);
        free(t.buf);
    }
    CHECK(accepted == 0);
    free(f.buf);
}

/* Every byte replaced by a handful of troublesome values: no crash, no leak,
 * and whatever is accepted is self-consistent. */
static void test_byte_mutations(void) {
    static const uint8_t values[] = {0x00, 0x01, ' ', '"', '\\', ',', ':', '[', ']', '{', '}',
                                     '-', '0', '9', 'e', 0x7f, 0x80, 0xc3, 0xed, 0xff};
    blob f = st_file(sweep_json, 16);
    int inconsistent = 0, accepted = 0;
    for (size_t pos = 0; pos < f.len; pos++) {
        for (size_t v = 0; v < sizeof values + 1; v++) {
            blob m = blob_alloc(f.len);
            memcpy(m.buf, f.buf, f.len);
            m.buf[pos] = v < sizeof values ? values[v] : (uint8_t)(f.buf[pos] ^ 1);
            us_safetensors st;
            us_error err = {0};
            us_status s = us_safetensors_parse(m.buf, m.len, &st, &err);
            if (s == US_OK) {
                accepted++;
                if (!check_invariants(&st, m.len)) inconsistent++;
            } else if (!is_empty(&st) || err.code != s || err.message[0] == '\0') {
                inconsistent++;
            }
            us_safetensors_free(&st);
            free(m.buf);
        }
    }
    CHECK(inconsistent == 0);
    CHECK(accepted > 0); /* e.g. mutations inside the data section or padding */
    free(f.buf);
}

/* The header-only entry point validates the same way, against the whole
 * file's length, and leaves data NULL. */
static void test_header_only(void) {
    const char *json = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}";
    blob f = st_file(json, 24);
    us_safetensors st;
    us_error err = {0};
    const size_t head = 8 + (strlen(json) + 7) / 8 * 8;
    REQUIRE(us_safetensors_parse_header(f.buf, head, f.len, &st, &err) == US_OK);
    CHECK(st.n_entries == 1 && st.data == NULL && st.data_len == 24);
    CHECK(st.entries[0].begin == 0 && st.entries[0].end == 24);
    us_safetensors_free(&st);
    /* offsets past the file's end are caught without the data */
    CHECK(us_safetensors_parse_header(f.buf, head, f.len - 4, &st, &err) == US_ERR_FORMAT);
    CHECK(strstr(err.message, "\"w\"") != NULL);
    /* too few bytes for the header: a caller error, named */
    CHECK(us_safetensors_parse_header(f.buf, head - 1, f.len, &st, &err) == US_ERR_INVALID_ARG);
    CHECK(strstr(err.message, "give the first") != NULL);
    CHECK(us_safetensors_parse_header(f.buf, 4, f.len, &st, &err) == US_ERR_INVALID_ARG);
    /* the whole file through this entry point equals the plain parse */
    REQUIRE(us_safetensors_parse_header(f.buf, f.len, f.len, &st, &err) == US_OK);
    CHECK(st.data == f.buf + head);
    us_safetensors_free(&st);
    free(f.buf);
}

/* A header-only parse of a file larger than 4 GiB (GPT-2 XL's single 6.4 GB
 * model.safetensors, read in pieces by a 32-bit wasm): the offsets are
 * checked as 64-bit numbers against the 64-bit length. */
static void test_header_of_a_huge_file(void) {
    const char *json = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1024,1024,1024],\"data_offsets\":[0,4294967296]},"
                       "\"b\":{\"dtype\":\"F16\",\"shape\":[1000000000],\"data_offsets\":[4294967296,6294967296]}}";
    const size_t n = strlen(json);
    uint8_t *buf = malloc(8 + n);
    REQUIRE(buf != NULL);
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)((uint64_t)n >> (8 * i));
    memcpy(buf + 8, json, n);
    us_safetensors st;
    us_error err = {0};
    const uint64_t len = 8 + n + 6294967296ull;
    REQUIRE(us_safetensors_parse_header(buf, 8 + n, len, &st, &err) == US_OK);
    CHECK(st.n_entries == 2 && st.data == NULL && st.data_len == 6294967296ull);
    CHECK(st.entries[1].begin == 4294967296ull && st.entries[1].end == 6294967296ull);
    us_safetensors_free(&st);
    CHECK(us_safetensors_parse_header(buf, 8 + n, len - 1, &st, &err) == US_ERR_FORMAT); /* one byte short */
    CHECK(strstr(err.message, "\"b\"") != NULL && strstr(err.message, "6294967296") != NULL);
    free(buf);
}

int main(void) {
    US_RUN(test_header_only);
    US_RUN(test_header_of_a_huge_file);
    US_RUN(test_basic);
    US_RUN(test_file_order);
    US_RUN(test_edge_shapes);
    US_RUN(test_escaped_names);
    US_RUN(test_many_tensors);
    US_RUN(test_many_metadata_keys);
    US_RUN(test_bad_args);
    US_RUN(test_malformed_table);
#ifndef __EMSCRIPTEN__
    US_RUN(test_seed_corpus);
#endif
    US_RUN(test_every_truncation);
    US_RUN(test_byte_mutations);
    return us_harness_summary();
}
