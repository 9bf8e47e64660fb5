/* f16.c — scalar conversions between f32 and IEEE 754 binary16 ("half"),
 * exact in both directions as IEEE defines them: us_f32_to_f16 rounds to
 * nearest, ties to even, including into and out of the subnormal range and
 * to infinity past 65520; us_f16_to_f32 is exact for every half. Integer
 * arithmetic only, so the result never depends on the FPU's modes (flush to
 * zero, x87 precision). Contract: see gemm.h. */
#include "kernels/gemm.h"

#include <string.h>

uint16_t us_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    const uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    const uint32_t a = x & 0x7fffffffu; /* |f| as bits: ordered like the values */
    if (a > 0x7f800000u) /* NaN: quiet, with the top 9 bits of the payload */
        return (uint16_t)(sign | 0x7e00u | ((a >> 13) & 0x1ffu));
    if (a >= 0x477ff000u) /* inf, or >= 65520 (halfway past 65504): rounds to inf */
        return (uint16_t)(sign | 0x7c00u);
    if (a >= 0x38800000u) { /* >= 2^-14: a normal half */
        /* Rebias the exponent (127 -> 15), keep 10 of the 23 mantissa bits and
         * round on the 13 dropped; a carry out of the mantissa correctly bumps
         * the exponent (up to 0x7c00 = inf only from >= 65520, handled above). */
        const uint32_t r = a - 0x38000000u;
        const uint32_t h = r >> 13, rem = r & 0x1fffu;
        return (uint16_t)(sign | (h + (rem > 0x1000u || (rem == 0x1000u && (h & 1u)))));
    }
    if (a <= 0x33000000u) /* <= 2^-25 (halfway to the smallest subnormal): 0 */
        return sign;
    /* 2^-25 < |f| < 2^-14: a subnormal half (or the smallest normal, by
     * rounding up): round(|f| / 2^-24) = the 24-bit significand shifted right
     * by 126 - e, in [14, 24]. */
    const uint32_t e = a >> 23, mant = (a & 0x7fffffu) | 0x800000u;
    const uint32_t shift = 126u - e;
    const uint32_t h = mant >> shift, rem = mant & ((1u << shift) - 1u), half = 1u << (shift - 1u);
    return (uint16_t)(sign | (h + (rem > half || (rem == half && (h & 1u)))));
}

float us_f16_to_f32(uint16_t h) {
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    const uint32_t e = (h >> 10) & 0x1fu;
    uint32_t m = h & 0x3ffu, bits;
    if (e == 0x1f) { /* inf, NaN (payload kept) */
        bits = sign | 0x7f800000u | (m << 13);
    } else if (e != 0) { /* normal: rebias 15 -> 127 */
        bits = sign | ((e + 112u) << 23) | (m << 13);
    } else if (m == 0) { /* +-0 */
        bits = sign;
    } else { /* subnormal m 2^-24: normalise */
        uint32_t shift = 0;
        while (!(m & 0x400u)) {
            m <<= 1;
            shift++;
        }
        bits = sign | ((113u - shift) << 23) | ((m & 0x3ffu) << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}
