/* tensor.c — the tensor descriptor's helpers (make, numel, contiguity, shape
 * printing) and the dtype table, plus the exact half/bfloat16 <-> f32
 * conversions every loader and kernel relies on.
 *
 * Conversions work on bit patterns only (no _Float16, no FPU rounding-mode
 * dependence), so native and wasm builds agree bit for bit. */
#include <stdio.h>
#include <string.h>

#include "unseal.h"

/* ---------------------------------------------------------------- dtypes */

size_t us_dtype_size(us_dtype dt) {
    switch (dt) {
    case US_F32: return 4;
    case US_F16: return 2;
    case US_BF16: return 2;
    case US_I32: return 4;
    case US_I64: return 8;
    default: return 0;
    }
}

const char *us_dtype_name(us_dtype dt) {
    switch (dt) {
    case US_F32: return "F32";
    case US_F16: return "F16";
    case US_BF16: return "BF16";
    case US_I32: return "I32";
    case US_I64: return "I64";
    default: return "?";
    }
}

/* ---------------------------------------------------------------- tensors */

/* ndim outside 0..US_MAX_DIMS is a programmer error; it is clamped so that
 * nothing reads out of bounds. A NULL shape with ndim > 0 gives a scalar. */
us_tensor us_tensor_make(us_dtype dt, void *data, int32_t ndim, const int32_t *shape) {
    us_tensor t;
    memset(&t, 0, sizeof t);
    if (ndim < 0 || !shape) ndim = 0;
    if (ndim > US_MAX_DIMS) ndim = US_MAX_DIMS;
    t.dtype = dt;
    t.data = data;
    t.ndim = ndim;
    /* Strides are computed in 64 bits and saturated: only a tensor with a zero
     * dimension can have a product beyond int32, and it is never indexed. */
    int64_t stride = 1;
    for (int32_t i = ndim - 1; i >= 0; i--) {
        t.shape[i] = shape[i];
        t.stride[i] = stride > INT32_MAX ? INT32_MAX : (int32_t)stride;
        int64_t d = shape[i] > 0 ? shape[i] : 0;
        stride = stride > INT32_MAX ? stride : stride * (d > 0 ? d : 1);
    }
    return t;
}

int64_t us_tensor_numel(const us_tensor *t) {
    if (!t) return 0;
    int32_t nd = t->ndim < 0 ? 0 : (t->ndim > US_MAX_DIMS ? US_MAX_DIMS : t->ndim);
    int64_t n = 1;
    for (int32_t i = 0; i < nd; i++) {
        if (t->shape[i] <= 0) return 0;
        n *= t->shape[i];
        if (n > INT32_MAX) n = (int64_t)INT32_MAX + 1; /* keep the product from overflowing */
    }
    return n;
}

/* As PyTorch's is_contiguous: strides of size-1 dimensions do not matter,
 * and a tensor without elements is contiguous. */
int us_tensor_is_contiguous(const us_tensor *t) {
    if (!t || t->ndim < 0 || t->ndim > US_MAX_DIMS) return 0;
    if (us_tensor_numel(t) == 0) return 1;
    int64_t expect = 1;
    for (int32_t i = t->ndim - 1; i >= 0; i--) {
        if (t->shape[i] == 1) continue;
        if (t->stride[i] != expect) return 0;
        expect *= t->shape[i];
    }
    return 1;
}

char *us_shape_str(const us_tensor *t, char *buf, size_t cap) {
    if (!buf || cap == 0) return buf;
    int32_t nd = !t ? 0 : t->ndim < 0 ? 0 : (t->ndim > US_MAX_DIMS ? US_MAX_DIMS : t->ndim);
    size_t pos = 0;
    buf[0] = '\0';
    /* snprintf truncates and NUL-terminates; pos stops at cap - 1 once full. */
    for (int32_t i = -1; i <= nd && pos + 1 < cap; i++) {
        int w;
        if (i < 0) w = snprintf(buf + pos, cap - pos, "[");
        else if (i == nd) w = snprintf(buf + pos, cap - pos, "]");
        else w = snprintf(buf + pos, cap - pos, i ? ", %d" : "%d", (int)t->shape[i]);
        if (w < 0) break;
        pos += (size_t)w;
        if (pos > cap - 1) pos = cap - 1;
    }
    return buf;
}

/* ---------------------------------------------------------------- conversions */

static float us_bits_to_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static uint32_t us_f32_to_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

float us_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    if (exp == 0) {
        /* Zero or subnormal: mant * 2^-24, exact in f32. */
        float v = (float)mant * 0x1p-24f;
        return us_bits_to_f32(us_f32_to_bits(v) | sign);
    }
    if (exp == 31) /* inf, or NaN with its payload kept */
        return us_bits_to_f32(sign | 0x7f800000u | (mant << 13));
    return us_bits_to_f32(sign | ((exp + 112) << 23) | (mant << 13)); /* rebias 15 -> 127 */
}

float us_bf16_to_f32(uint16_t h) { return us_bits_to_f32((uint32_t)h << 16); }

uint16_t us_f32_to_f16(float f) {
    uint32_t x = us_f32_to_bits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    x &= 0x7fffffffu;
    if (x >= 0x7f800000u) {
        if (x == 0x7f800000u) return (uint16_t)(sign | 0x7c00u);
        /* NaN: keep the top payload bits and set the quiet bit, so it stays NaN. */
        return (uint16_t)(sign | 0x7e00u | ((x >> 13) & 0x3ffu));
    }
    if (x >= 0x477ff000u) /* >= 65520 rounds (to even) past 65504: inf */
        return (uint16_t)(sign | 0x7c00u);
    uint32_t e = x >> 23;
    if (e < 113) {
        /* Below 2^-14: an f16 subnormal (or zero). Units of 2^-24 are
         * mant * 2^(e - 126); shift right by 126 - e with round-to-even. A
         * carry into 0x400 is exactly the smallest normal. */
        if (e < 102) return sign; /* < 2^-25: rounds to zero (2^-25 itself ties to 0) */
        uint32_t mant = (x & 0x7fffffu) | 0x800000u;
        uint32_t shift = 126 - e; /* 14..24 */
        uint32_t r = mant >> shift;
        uint32_t rem = mant & ((1u << shift) - 1u);
        uint32_t half = 1u << (shift - 1u);
        if (rem > half || (rem == half && (r & 1u))) r++;
        return (uint16_t)(sign | r);
    }
    uint32_t h = ((e - 112) << 10) | ((x >> 13) & 0x3ffu); /* rebias 127 -> 15; e >= 113 */
    uint32_t rem = x & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) h++; /* carry may bump the exponent */
    return (uint16_t)(sign | h);
}

uint16_t us_f32_to_bf16(float f) {
    uint32_t x = us_f32_to_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) /* NaN: quiet it so the truncation keeps it NaN */
        return (uint16_t)((x >> 16) | 0x0040u);
    /* Round to nearest even; overflow carries into the exponent and yields inf. */
    x += 0x7fffu + ((x >> 16) & 1u);
    return (uint16_t)(x >> 16);
}

/* dst: n floats (borrowed); src: n elements of src_dt, any alignment, little
 * endian (borrowed). dst and src must not overlap. */
us_status us_convert_to_f32(float *dst, const void *src, us_dtype src_dt, size_t n) {
    if (n == 0) return US_OK;
    if (!dst || !src) return US_ERR_INVALID_ARG;
    const uint8_t *b = (const uint8_t *)src;
    switch (src_dt) {
    case US_F32:
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        memcpy(dst, src, n * sizeof(float));
#else
        for (size_t i = 0; i < n; i++, b += 4)
            dst[i] = us_bits_to_f32((uint32_t)b[0] | (uint32_t)b[1] << 8 |
                                    (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24);
#endif
        return US_OK;
    case US_F16:
        for (size_t i = 0; i < n; i++, b += 2)
            dst[i] = us_f16_to_f32((uint16_t)(b[0] | b[1] << 8));
        return US_OK;
    case US_BF16:
        for (size_t i = 0; i < n; i++, b += 2)
            dst[i] = us_bf16_to_f32((uint16_t)(b[0] | b[1] << 8));
        return US_OK;
    default:
        return US_ERR_DTYPE;
    }
}
