/* test_tensor.c — status helpers, the tensor descriptor, dtypes, and the
 * f16/bf16 <-> f32 conversions (exhaustively over all 65536 bit patterns,
 * and against a nearest-value oracle for f32 -> f16). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "harness.h"
#include "unseal.h"

static uint32_t bits_of(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}
static float float_of(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* ---------------------------------------------------------------- status */

static void test_status_names(void) {
    CHECK(strcmp(us_status_name(US_OK), "US_OK") == 0);
    CHECK(strcmp(us_status_name(US_ERR_INVALID_ARG), "US_ERR_INVALID_ARG") == 0);
    CHECK(strcmp(us_status_name(US_ERR_OOM), "US_ERR_OOM") == 0);
    CHECK(strcmp(us_status_name(US_ERR_SHAPE), "US_ERR_SHAPE") == 0);
    CHECK(strcmp(us_status_name(US_ERR_DTYPE), "US_ERR_DTYPE") == 0);
    CHECK(strcmp(us_status_name(US_ERR_FORMAT), "US_ERR_FORMAT") == 0);
    CHECK(strcmp(us_status_name(US_ERR_NOT_FOUND), "US_ERR_NOT_FOUND") == 0);
    CHECK(strcmp(us_status_name(US_ERR_RANGE), "US_ERR_RANGE") == 0);
    CHECK(strcmp(us_status_name(US_ERR_HOOK), "US_ERR_HOOK") == 0);
    CHECK(us_status_name((us_status)99) != NULL);
}

static void test_fail(void) {
    us_error err = {0};
    CHECK(us_fail(&err, US_ERR_SHAPE, "tensor %s has %d dims", "w", 3) == US_ERR_SHAPE);
    CHECK(err.code == US_ERR_SHAPE);
    CHECK(strcmp(err.message, "tensor w has 3 dims") == 0);
    /* NULL err is allowed and still returns the code. */
    CHECK(us_fail(NULL, US_ERR_RANGE, "x %d", 1) == US_ERR_RANGE);
    /* Long messages are truncated, NUL-terminated. */
    char big[2000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    CHECK(us_fail(&err, US_ERR_FORMAT, "%s", big) == US_ERR_FORMAT);
    CHECK(strlen(err.message) == sizeof err.message - 1);
}

/* ---------------------------------------------------------------- tensors */

static void test_dtypes(void) {
    CHECK(us_dtype_size(US_F32) == 4);
    CHECK(us_dtype_size(US_F16) == 2);
    CHECK(us_dtype_size(US_BF16) == 2);
    CHECK(us_dtype_size(US_I32) == 4);
    CHECK(us_dtype_size(US_I64) == 8);
    CHECK(us_dtype_size(US_DTYPE_COUNT) == 0);
    CHECK(strcmp(us_dtype_name(US_F32), "F32") == 0);
    CHECK(strcmp(us_dtype_name(US_F16), "F16") == 0);
    CHECK(strcmp(us_dtype_name(US_BF16), "BF16") == 0);
    CHECK(strcmp(us_dtype_name(US_I32), "I32") == 0);
    CHECK(strcmp(us_dtype_name(US_I64), "I64") == 0);
    CHECK(strcmp(us_dtype_name((us_dtype)42), "?") == 0);
}

static void test_tensor_make(void) {
    float x[24];
    us_tensor t = us_tensor_f32(x, 3, (int32_t[]){2, 3, 4});
    CHECK(t.dtype == US_F32 && t.data == x && t.ndim == 3 && t.name == NULL);
    CHECK(t.shape[0] == 2 && t.shape[1] == 3 && t.shape[2] == 4);
    CHECK(t.stride[0] == 12 && t.stride[1] == 4 && t.stride[2] == 1);
    CHECK(us_tensor_numel(&t) == 24);
    CHECK(us_tensor_is_contiguous(&t));
    /* A transposed view is not contiguous. */
    us_tensor tr = t;
    tr.shape[1] = 4, tr.shape[2] = 3, tr.stride[1] = 1, tr.stride[2] = 4;
    CHECK(!us_tensor_is_contiguous(&tr));
    /* Size-1 dimensions' strides do not matter. */
    us_tensor one = us_tensor_make(US_F16, x, 3, (int32_t[]){2, 1, 4});
    CHECK(us_tensor_is_contiguous(&one));
    one.stride[1] = 777;
    CHECK(us_tensor_is_contiguous(&one));

    us_tensor s = us_tensor_make(US_I64, x, 0, NULL);
    CHECK(s.ndim == 0 && us_tensor_numel(&s) == 1 && us_tensor_is_contiguous(&s));
    us_tensor z = us_tensor_make(US_F32, NULL, 2, (int32_t[]){0, 5});
    CHECK(us_tensor_numel(&z) == 0 && z.stride[0] == 5 && z.stride[1] == 1);
    /* ndim out of range is clamped rather than overrunning. */
    int32_t nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    us_tensor c = us_tensor_make(US_F32, x, 9, nine);
    CHECK(c.ndim == US_MAX_DIMS);
    CHECK(us_tensor_make(US_F32, x, -1, nine).ndim == 0);
}

static void test_shape_str(void) {
    char buf[64];
    us_tensor t = us_tensor_make(US_F32, NULL, 3, (int32_t[]){2, 3, 4});
    CHECK(strcmp(us_shape_str(&t, buf, sizeof buf), "[2, 3, 4]") == 0);
    us_tensor s = us_tensor_make(US_F32, NULL, 0, NULL);
    CHECK(strcmp(us_shape_str(&s, buf, sizeof buf), "[]") == 0);
    us_tensor big = us_tensor_make(US_F32, NULL, 2, (int32_t[]){2147483647, 0});
    CHECK(strcmp(us_shape_str(&big, buf, sizeof buf), "[2147483647, 0]") == 0);
    /* Truncation keeps the string terminated and within cap. */
    char small[5];
    memset(small, 'z', sizeof small);
    us_shape_str(&t, small, sizeof small);
    CHECK(strcmp(small, "[2, ") == 0);
    char one[1] = {'z'};
    us_shape_str(&t, one, 1);
    CHECK(one[0] == '\0');
    CHECK(us_shape_str(&t, NULL, 10) == NULL);
}

/* ---------------------------------------------------------------- conversions */

static void test_f16_known_values(void) {
    CHECK(us_f32_to_f16(1.0f) == 0x3c00);
    CHECK(us_f32_to_f16(-2.5f) == 0xc100);
    CHECK(us_f32_to_f16(65504.0f) == 0x7bff);
    CHECK(us_f32_to_f16(0x1p-24f) == 0x0001);          /* smallest subnormal */
    CHECK(us_f32_to_f16(0x1p-14f) == 0x0400);          /* smallest normal */
    CHECK(us_f32_to_f16(0.1f) == 0x2e66);              /* 0.0999755859375 */
    CHECK(us_f32_to_f16(0.0f) == 0x0000);
    CHECK(us_f32_to_f16(-0.0f) == 0x8000);
    CHECK(us_f16_to_f32(0x3c00) == 1.0f);
    CHECK(us_f16_to_f32(0xc100) == -2.5f);
    CHECK(us_f16_to_f32(0x7bff) == 65504.0f);
    CHECK(us_f16_to_f32(0x0001) == 0x1p-24f);
    CHECK(us_f16_to_f32(0x03ff) == 1023 * 0x1p-24f);   /* largest subnormal */
    CHECK(us_f16_to_f32(0x2e66) == 0.0999755859375f);
    CHECK(isinf(us_f16_to_f32(0x7c00)) && us_f16_to_f32(0x7c00) > 0);
    CHECK(isinf(us_f16_to_f32(0xfc00)) && us_f16_to_f32(0xfc00) < 0);
    CHECK(isnan(us_f16_to_f32(0x7e00)));
    CHECK(bits_of(us_f16_to_f32(0x8000)) == 0x80000000u);
    /* Ties go to even. */
    CHECK(us_f32_to_f16(1.0f + 0x1p-11f) == 0x3c00);           /* halfway 1 and 1+2^-10 */
    CHECK(us_f32_to_f16(1.0f + 3 * 0x1p-11f) == 0x3c02);       /* halfway, odd below */
    CHECK(us_f32_to_f16(1.0f + 0x1p-11f + 0x1p-20f) == 0x3c01); /* just above halfway */
    CHECK(us_f32_to_f16(0x1p-25f) == 0x0000);                  /* halfway 0 and 2^-24 */
    CHECK(us_f32_to_f16(0x1p-25f * 1.0001f) == 0x0001);
    CHECK(us_f32_to_f16(3 * 0x1p-25f) == 0x0002);              /* 1.5 units -> 2 */
    CHECK(us_f32_to_f16(1023.5f * 0x1p-24f) == 0x0400);        /* carries into the normals */
    CHECK(us_f32_to_f16(-0x1p-30f) == 0x8000);                 /* underflow keeps the sign */
    CHECK(us_f32_to_f16(0x1p-149f) == 0x0000);                 /* f32 subnormal */
    /* Overflow. */
    CHECK(us_f32_to_f16(65519.996f) == 0x7bff);
    CHECK(us_f32_to_f16(65520.0f) == 0x7c00); /* tie, 65504 is odd: rounds up to inf */
    CHECK(us_f32_to_f16(1e10f) == 0x7c00);
    CHECK(us_f32_to_f16(-1e10f) == 0xfc00);
    CHECK(us_f32_to_f16(INFINITY) == 0x7c00);
    CHECK(us_f32_to_f16(-INFINITY) == 0xfc00);
    uint16_t n = us_f32_to_f16(NAN);
    CHECK((n & 0x7c00) == 0x7c00 && (n & 0x03ff) != 0);
    /* A NaN whose payload lives only in the low bits stays NaN. */
    n = us_f32_to_f16(float_of(0x7f800001u));
    CHECK((n & 0x7c00) == 0x7c00 && (n & 0x03ff) != 0);
}

static void test_bf16_known_values(void) {
    CHECK(us_f32_to_bf16(1.0f) == 0x3f80);
    CHECK(us_f32_to_bf16(-2.5f) == 0xc020);
    CHECK(us_f32_to_bf16(0.1f) == 0x3dcd);  /* 0x3dcccccd rounds up */
    CHECK(us_f32_to_bf16(65504.0f) == 0x4780);
    CHECK(us_f32_to_bf16(0x1p-133f) == 0x0001); /* smallest bf16 subnormal */
    CHECK(us_bf16_to_f32(0x0001) == 0x1p-133f);
    CHECK(us_bf16_to_f32(0x3dcd) == float_of(0x3dcd0000u));
    CHECK(us_f32_to_bf16(float_of(0x3f808000u)) == 0x3f80); /* tie to even (down) */
    CHECK(us_f32_to_bf16(float_of(0x3f818000u)) == 0x3f82); /* tie to even (up) */
    CHECK(us_f32_to_bf16(float_of(0x3f808001u)) == 0x3f81);
    CHECK(us_f32_to_bf16(float_of(0x7f7fffffu)) == 0x7f80); /* FLT_MAX overflows to inf */
    CHECK(us_f32_to_bf16(-INFINITY) == 0xff80);
    uint16_t n = us_f32_to_bf16(float_of(0x7f800001u));
    CHECK((n & 0x7f80) == 0x7f80 && (n & 0x007f) != 0);
    CHECK(isnan(us_bf16_to_f32(0x7fc0)));
}

/* All 65536 f16 patterns: f16 -> f32 -> f16 is the identity for non-NaNs and
 * keeps NaNs NaN (with the sign). */
static void test_f16_roundtrip_exhaustive(void) {
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = us_f16_to_f32((uint16_t)h);
        uint16_t back = us_f32_to_f16(f);
        int is_nan = (h & 0x7c00) == 0x7c00 && (h & 0x03ff) != 0;
        if (is_nan) {
            if (!isnan(f) || (back & 0x7c00) != 0x7c00 || (back & 0x3ff) == 0 ||
                (back & 0x8000) != (h & 0x8000))
                bad++;
        } else if (back != h) {
            bad++;
        }
        /* The widening is exact: compare against the textbook formula. */
        if (!is_nan) {
            int e = (int)((h >> 10) & 0x1f), m = (int)(h & 0x3ff);
            double v = e == 0 ? ldexp(m, -24) : e == 31 ? INFINITY : ldexp(1024 + m, e - 25);
            if (h & 0x8000) v = -v;
            if ((double)f != v) bad++;
        }
    }
    CHECK(bad == 0);
}

static void test_bf16_roundtrip_exhaustive(void) {
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = us_bf16_to_f32((uint16_t)h);
        uint16_t back = us_f32_to_bf16(f);
        int is_nan = (h & 0x7f80) == 0x7f80 && (h & 0x007f) != 0;
        if (is_nan) {
            if (!isnan(f) || (back & 0x7f80) != 0x7f80 || (back & 0x7f) == 0 ||
                (back & 0x8000) != (h & 0x8000))
                bad++;
        } else if (back != h) {
            bad++;
        }
    }
    CHECK(bad == 0);
}

/* f32 -> f16 against an oracle: for ~4M f32 patterns spread over the whole
 * range, the result must be a nearest f16 (ties to even), computed in double. */
static void test_f16_rounding_oracle(void) {
    int bad = 0;
    for (uint64_t u = 0; u <= 0xffffffffull; u += 1021) {
        float x = float_of((uint32_t)u);
        if (isnan(x)) continue;
        uint16_t h = us_f32_to_f16(x);
        if ((h & 0x8000) != ((uint32_t)u >> 16 & 0x8000)) { bad++; continue; }
        double ax = fabs((double)x);
        uint16_t m = h & 0x7fff;
        if (ax >= 65520.0) { if (m != 0x7c00) bad++; continue; }
        if (m >= 0x7c00) { bad++; continue; }
        double d = fabs((double)us_f16_to_f32(m) - ax);
        if (m > 0) {
            double dl = fabs((double)us_f16_to_f32((uint16_t)(m - 1)) - ax);
            if (dl < d || (dl == d && (m & 1))) bad++;
        }
        if (m < 0x7bff) {
            double du = fabs((double)us_f16_to_f32((uint16_t)(m + 1)) - ax);
            if (du < d || (du == d && (m & 1))) bad++;
        }
    }
    CHECK(bad == 0);
}

static void test_convert_to_f32(void) {
    /* Unaligned, little-endian sources. */
    uint8_t raw[1 + 3 * 4];
    float ref[3] = {1.5f, -0.0f, 3e-5f};
    raw[0] = 0xaa;
    for (int i = 0; i < 3; i++) {
        uint32_t b = bits_of(ref[i]);
        for (int k = 0; k < 4; k++) raw[1 + 4 * i + k] = (uint8_t)(b >> (8 * k));
    }
    float out[3] = {0};
    CHECK(us_convert_to_f32(out, raw + 1, US_F32, 3) == US_OK);
    CHECK(memcmp(out, ref, sizeof ref) == 0);

    uint8_t h[1 + 2 * 3] = {0xaa, 0x00, 0x3c, 0x00, 0xc1, 0xff, 0x7b}; /* 1, -2.5, 65504 */
    CHECK(us_convert_to_f32(out, h + 1, US_F16, 3) == US_OK);
    CHECK(out[0] == 1.0f && out[1] == -2.5f && out[2] == 65504.0f);
    uint8_t b[1 + 2 * 2] = {0xaa, 0x80, 0x3f, 0x20, 0xc0}; /* 1, -2.5 */
    CHECK(us_convert_to_f32(out, b + 1, US_BF16, 2) == US_OK);
    CHECK(out[0] == 1.0f && out[1] == -2.5f);

    CHECK(us_convert_to_f32(out, raw, US_I32, 1) == US_ERR_DTYPE);
    CHECK(us_convert_to_f32(out, raw, US_I64, 1) == US_ERR_DTYPE);
    CHECK(us_convert_to_f32(NULL, raw, US_F32, 1) == US_ERR_INVALID_ARG);
    CHECK(us_convert_to_f32(out, NULL, US_F32, 0) == US_OK);
}

int main(void) {
    US_RUN(test_status_names);
    US_RUN(test_fail);
    US_RUN(test_dtypes);
    US_RUN(test_tensor_make);
    US_RUN(test_shape_str);
    US_RUN(test_f16_known_values);
    US_RUN(test_bf16_known_values);
    US_RUN(test_f16_roundtrip_exhaustive);
    US_RUN(test_bf16_roundtrip_exhaustive);
    US_RUN(test_f16_rounding_oracle);
    US_RUN(test_convert_to_f32);
    return us_harness_summary();
}
