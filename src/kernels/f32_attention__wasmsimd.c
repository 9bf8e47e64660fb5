/* f32_attention__wasmsimd.c — the SIMD128 attention kernels for one (batch
 * row, head): scores, causal softmax rows, pattern · V, and the fused online
 * softmax. Contracts: see attention.h; the scalar references are in
 * f32_attention_scalar.c. Compiles when targeting SIMD128, or natively
 * through SIMDe when US_SIMDE is defined (so the sanitizers check this exact
 * source).
 *
 * Layout. For T >= 2 query rows, us_attention_scores and us_attention_fused
 * first pack K into the caller's scratch as panels of 8 keys,
 * [ceil(S/8), hs, 8] (the GEMM's panel layout, gemm.h): panel p holds, for
 * d = 0..hs-1, k[8p + j, d] for j < 8, zero for keys >= S. A register tile of
 * MR query rows by 8 keys then sums q[t, d] * k[s, d] in d order, exactly like
 * the reference (one broadcast of q and two panel loads per d), which is what
 * keeps the scores bit for bit. One query row (T = 1 decode, or a last row)
 * reads the keys in place instead: 8 rows at a time, transposed 4x4 in
 * registers, still in d order (scores_row_direct); packing a KV cache that
 * streams from DRAM only to read it once made decode 1.75x slower.
 * V needs no packing: 8 consecutive floats of a value row are already the
 * "8 columns" of a tile, so pattern · V reads v in place, rows v_stride apart.
 *
 * Tiles (MR rows x N columns; up to 8 f32x4 accumulators, as many as V8 keeps
 * in its 15 xmm registers without spilling, see gemm.c):
 *   scores  4x8, 3x8, 2x8 over packed panels; 1 row: 2 groups of 4 keys.
 *   z       4x8, 3x8, 2x16, 1x32 (decode: 2 passes over each value row
 *           instead of 4 or 8). Column tails: 4-wide, then scalar.
 * Every row group is specialised for its exact MR (no aliased rows), so the
 * causal structure inside a group is exact: for rows t0..t0+MR-1, keys up to
 * past + t0 are common to all rows and key past + t0 + i is added only to
 * rows i.. (never multiplied by a zero it should skip).
 *
 * The softmax's exp is XNNPACK's rr2-p5 (f32-raddstoreexpminusmax): Cody-Waite
 * range reduction in two steps, a degree-5 polynomial, results below
 * -87.34 (where expf goes subnormal) flushed to 0, so exp(-inf) = 0 and
 * exp(0) = 1 exactly. No FMA anywhere (SIMD128 has none). */
#include "kernels/attention.h"

#if defined(__wasm_simd128__) || defined(US_SIMDE)
#include "kernels/simd128.h"

#include <math.h>
#include <string.h>

#include "kernels/vexp__wasmsimd.h" /* vexp_nonpos */

/* Keys per block of the fused kernel: one rescale of z per block. 32 keys
 * (4 panels) measured fastest in Node 20: 8 rescales z too often, 64 makes no
 * difference. */
#define FUSED_KB 32

/* ------------------------------------------------------------ small helpers */

US_INLINE float hsum(v128_t v) {
    v = wasm_f32x4_add(v, wasm_i32x4_shuffle(v, v, 2, 3, 0, 1));
    v = wasm_f32x4_add(v, wasm_i32x4_shuffle(v, v, 1, 0, 3, 2));
    return wasm_f32x4_extract_lane(v, 0);
}

/* Horizontal max ignoring NaN lanes like the reference (a NaN is never
 * "greater"); pmax(a, b) = a < b ? b : a. */
US_INLINE float hmax(v128_t v) {
    v = wasm_f32x4_pmax(v, wasm_i32x4_shuffle(v, v, 2, 3, 0, 1));
    v = wasm_f32x4_pmax(v, wasm_i32x4_shuffle(v, v, 1, 0, 3, 2));
    return wasm_f32x4_extract_lane(v, 0);
}

/* Stores the first n (0..4) lanes of v at p. */
US_INLINE void store_partial(float *p, v128_t v, size_t n) {
    if (n >= 4) {
        wasm_v128_store(p, v);
        return;
    }
    if (n & 2) {
        wasm_v128_store64_lane(p, v, 0);
        v = wasm_i64x2_shuffle(v, v, 1, 1);
        p += 2;
    }
    if (n & 1) wasm_v128_store32_lane(p, v, 0);
}

/* The scale of the scores: x / sqrt(hs) as HF computes it. When sqrt(hs) is
 * a power of two (hs = 1, 4, 16, 64, 256, ...), x * (1 / sqrt(hs)) is the
 * same float for every x, and a multiplication is several times cheaper
 * than a division. */
typedef struct {
    v128_t v;     /* the divisor, or its exact reciprocal */
    int multiply; /* 1: multiply by v; 0: divide by v */
} scale_t;

static scale_t make_scale(int32_t hs) {
    const float scale = (float)sqrt((double)hs);
    int e;
    const int pow2 = frexpf(scale, &e) == 0.5f;
    scale_t s = {wasm_f32x4_splat(pow2 ? 1.0f / scale : scale), pow2};
    return s;
}

US_INLINE v128_t apply_scale(v128_t x, scale_t s) {
    return s.multiply ? wasm_f32x4_mul(x, s.v) : wasm_f32x4_div(x, s.v);
}

/* ------------------------------------------------------------- packing of K */

/* Packs keys 0..S-1 of k (rows ks apart) into panels [ceil(S/8), hs, 8]. */
static void pack_keys(int32_t S, int32_t hs, const float *k, size_t ks, float *pk) {
    const size_t panels = ((size_t)S + 7) / 8, H = (size_t)hs;
    for (size_t p = 0; p < panels; p++) {
        float *dst = pk + p * H * 8; /* [hs, 8] */
        const size_t s0 = p * 8;
        if (s0 + 8 > (size_t)S) { /* the last, partial panel: zeros past S */
            for (size_t d = 0; d < H; d++)
                for (size_t j = 0; j < 8; j++)
                    dst[d * 8 + j] = s0 + j < (size_t)S ? k[(s0 + j) * ks + d] : 0.0f;
            continue;
        }
        const float *r0 = k + s0 * ks, *r1 = r0 + ks, *r2 = r1 + ks, *r3 = r2 + ks;
        const float *r4 = r3 + ks, *r5 = r4 + ks, *r6 = r5 + ks, *r7 = r6 + ks;
        size_t d = 0;
        for (; d + 4 <= H; d += 4) { /* two 4x4 transposes: keys 0-3 and 4-7 */
            const v128_t a0 = wasm_v128_load(r0 + d), a1 = wasm_v128_load(r1 + d);
            const v128_t a2 = wasm_v128_load(r2 + d), a3 = wasm_v128_load(r3 + d);
            const v128_t b0 = wasm_v128_load(r4 + d), b1 = wasm_v128_load(r5 + d);
            const v128_t b2 = wasm_v128_load(r6 + d), b3 = wasm_v128_load(r7 + d);
            const v128_t a01l = wasm_i32x4_shuffle(a0, a1, 0, 4, 1, 5);
            const v128_t a23l = wasm_i32x4_shuffle(a2, a3, 0, 4, 1, 5);
            const v128_t a01h = wasm_i32x4_shuffle(a0, a1, 2, 6, 3, 7);
            const v128_t a23h = wasm_i32x4_shuffle(a2, a3, 2, 6, 3, 7);
            const v128_t b01l = wasm_i32x4_shuffle(b0, b1, 0, 4, 1, 5);
            const v128_t b23l = wasm_i32x4_shuffle(b2, b3, 0, 4, 1, 5);
            const v128_t b01h = wasm_i32x4_shuffle(b0, b1, 2, 6, 3, 7);
            const v128_t b23h = wasm_i32x4_shuffle(b2, b3, 2, 6, 3, 7);
            float *o = dst + d * 8;
            wasm_v128_store(o + 0, wasm_i32x4_shuffle(a01l, a23l, 0, 1, 4, 5));
            wasm_v128_store(o + 4, wasm_i32x4_shuffle(b01l, b23l, 0, 1, 4, 5));
            wasm_v128_store(o + 8, wasm_i32x4_shuffle(a01l, a23l, 2, 3, 6, 7));
            wasm_v128_store(o + 12, wasm_i32x4_shuffle(b01l, b23l, 2, 3, 6, 7));
            wasm_v128_store(o + 16, wasm_i32x4_shuffle(a01h, a23h, 0, 1, 4, 5));
            wasm_v128_store(o + 20, wasm_i32x4_shuffle(b01h, b23h, 0, 1, 4, 5));
            wasm_v128_store(o + 24, wasm_i32x4_shuffle(a01h, a23h, 2, 3, 6, 7));
            wasm_v128_store(o + 28, wasm_i32x4_shuffle(b01h, b23h, 2, 3, 6, 7));
        }
        for (; d < H; d++) {
            float *o = dst + d * 8;
            o[0] = r0[d], o[1] = r1[d], o[2] = r2[d], o[3] = r3[d];
            o[4] = r4[d], o[5] = r5[d], o[6] = r6[d], o[7] = r7[d];
        }
    }
}

/* ------------------------------------------------------------- score tiles */

/* acc[r][0..1] (r < MR) = scaled q row r · the 8 keys of the packed panel w:
 * lanes of acc[r][i] are keys 4i..4i+3. */
US_INLINE void scores_tile(const int MR, size_t hs, const float *q, size_t qs, const float *w,
                           scale_t scale, v128_t acc[4][2]) {
    const float *qr[4];
    for (int r = 0; r < MR; r++) qr[r] = q + (size_t)r * qs;
    for (int r = 0; r < MR; r++) acc[r][0] = acc[r][1] = wasm_f32x4_splat(0.0f);
    for (size_t d = 0; d < hs; d++) {
        const v128_t b0 = wasm_v128_load(w), b1 = wasm_v128_load(w + 4);
        w += 8;
        for (int r = 0; r < MR; r++) {
            const v128_t a = wasm_v128_load32_splat(qr[r]);
            qr[r] += 1;
            acc[r][0] = wasm_f32x4_add(acc[r][0], wasm_f32x4_mul(a, b0));
            acc[r][1] = wasm_f32x4_add(acc[r][1], wasm_f32x4_mul(a, b1));
        }
    }
    for (int r = 0; r < MR; r++) {
        acc[r][0] = apply_scale(acc[r][0], scale);
        acc[r][1] = apply_scale(acc[r][1], scale);
    }
}

/* One query row (decode: T = 1), keys read in place: out[i] = scaled
 * q · k[i] for i < n, k rows ks apart. 8 keys per step: per 4 dims, 8 row
 * loads, two 4x4 transposes in registers (the packing, without the trip
 * through memory) and 8 broadcast multiply-adds into 2 accumulators, so each
 * key's sum still runs in d order from 0: bit for bit the reference. Reading
 * the 8 rows as they lie streams a KV cache at ~1.75x the speed of packing
 * it first (DRAM-bound decode, S = 1024, Node 20). Last 1-7 keys: scalar. */
US_INLINE v128_t dot4_rows(size_t hs, const float *q, const float *r0, size_t ks) {
    const float *r1 = r0 + ks, *r2 = r1 + ks, *r3 = r2 + ks;
    v128_t acc = wasm_f32x4_splat(0.0f);
    size_t d = 0;
    for (; d + 4 <= hs; d += 4) {
        const v128_t a0 = wasm_v128_load(r0 + d), a1 = wasm_v128_load(r1 + d);
        const v128_t a2 = wasm_v128_load(r2 + d), a3 = wasm_v128_load(r3 + d);
        const v128_t t01l = wasm_i32x4_shuffle(a0, a1, 0, 4, 1, 5), t23l = wasm_i32x4_shuffle(a2, a3, 0, 4, 1, 5);
        const v128_t t01h = wasm_i32x4_shuffle(a0, a1, 2, 6, 3, 7), t23h = wasm_i32x4_shuffle(a2, a3, 2, 6, 3, 7);
        acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_v128_load32_splat(q + d), wasm_i32x4_shuffle(t01l, t23l, 0, 1, 4, 5)));
        acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_v128_load32_splat(q + d + 1), wasm_i32x4_shuffle(t01l, t23l, 2, 3, 6, 7)));
        acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_v128_load32_splat(q + d + 2), wasm_i32x4_shuffle(t01h, t23h, 0, 1, 4, 5)));
        acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_v128_load32_splat(q + d + 3), wasm_i32x4_shuffle(t01h, t23h, 2, 3, 6, 7)));
    }
    for (; d < hs; d++)
        acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_v128_load32_splat(q + d), wasm_f32x4_make(r0[d], r1[d], r2[d], r3[d])));
    return acc;
}

static void scores_row_direct(size_t hs, const float *q, const float *k, size_t ks, size_t n,
                              float *out, scale_t scale) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) { /* two independent groups of 4 keys */
        const float *r0 = k + i * ks;
        const v128_t lo = dot4_rows(hs, q, r0, ks), hi = dot4_rows(hs, q, r0 + 4 * ks, ks);
        wasm_v128_store(out + i, apply_scale(lo, scale));
        wasm_v128_store(out + i + 4, apply_scale(hi, scale));
    }
    if (i + 4 <= n) {
        wasm_v128_store(out + i, apply_scale(dot4_rows(hs, q, k + i * ks, ks), scale));
        i += 4;
    }
    for (; i < n; i++) {
        const float *r = k + i * ks;
        float acc = 0.0f;
        for (size_t d = 0; d < hs; d++) acc += q[d] * r[d];
        out[i] = wasm_f32x4_extract_lane(apply_scale(wasm_f32x4_splat(acc), scale), 0);
    }
}

/* Scores of rows t0..t0+MR-1 (all keys up to the group's causal limit), then
 * -inf on each row's masked keys. */
US_INLINE void scores_group(const int MR, int32_t S, int32_t hs, int32_t past, int32_t t0,
                            const float *q, size_t qs, const float *k, size_t ks, const float *pk,
                            float *out, size_t os, scale_t scale) {
    const size_t lim = (size_t)(past + t0 + MR - 1); /* the group's last unmasked key */
    if (MR == 1) {
        scores_row_direct((size_t)hs, q, k, ks, lim + 1, out, scale);
    } else {
        const size_t panels = lim / 8 + 1, pstride = (size_t)hs * 8;
        v128_t acc[4][2];
        for (size_t p = 0; p < panels; p++) {
            scores_tile(MR, (size_t)hs, q, qs, pk + p * pstride, scale, acc);
            const size_t s0 = p * 8, nc = (size_t)S - s0 < 8u ? (size_t)S - s0 : 8u;
            for (int r = 0; r < MR; r++)
                for (int i = 0; i < 2; i++)
                    if (4u * i < nc) store_partial(out + r * os + s0 + 4 * i, acc[r][i], nc - 4u * i);
        }
    }
    for (int r = 0; r < MR; r++)
        for (size_t s = (size_t)(past + t0 + r) + 1; s < (size_t)S; s++) out[r * os + s] = -INFINITY;
}

void us_f32_attention_scores__wasmsimd(int32_t T, int32_t S, int32_t hs, const float *q,
                                       int32_t q_stride, const float *k, int32_t k_stride,
                                       float *scores, int32_t scores_stride, float *scratch) {
    if (T < 1 || S < T || hs < 1) return;
    const int32_t past = S - T;
    const size_t qs = (size_t)q_stride, ks = (size_t)k_stride, os = (size_t)scores_stride;
    const scale_t scale = make_scale(hs);
    if (T >= 2) pack_keys(S, hs, k, ks, scratch); /* one row reads k in place */
    int32_t t0 = 0;
    for (; t0 + 4 <= T; t0 += 4)
        scores_group(4, S, hs, past, t0, q + t0 * qs, qs, k, ks, scratch, scores + t0 * os, os, scale);
    switch (T - t0) {
    case 3: scores_group(3, S, hs, past, t0, q + t0 * qs, qs, k, ks, scratch, scores + t0 * os, os, scale); break;
    case 2: scores_group(2, S, hs, past, t0, q + t0 * qs, qs, k, ks, scratch, scores + t0 * os, os, scale); break;
    case 1: scores_group(1, S, hs, past, t0, q + t0 * qs, qs, k, ks, scratch, scores + t0 * os, os, scale); break;
    default: break;
    }
}

/* ------------------------------------------------------------ softmax rows */

void us_f32_attention_softmax_rows__wasmsimd(int32_t T, int32_t S, float *scores,
                                             int32_t scores_stride) {
    if (T < 1 || S < T) return;
    const int32_t past = S - T;
    for (int32_t t = 0; t < T; t++) {
        float *row = scores + (size_t)t * (size_t)scores_stride;
        const size_t n = (size_t)(past + t) + 1; /* unmasked entries */
        const size_t n4 = n & ~(size_t)3, rest = n - n4;
        float tail[4] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY};
        memcpy(tail, row + n4, rest * sizeof(float));

        v128_t vmax = wasm_v128_load(tail);
        for (size_t s = 0; s < n4; s += 4) vmax = wasm_f32x4_pmax(vmax, wasm_v128_load(row + s));
        const v128_t vmx = wasm_f32x4_splat(hmax(vmax));

        v128_t vsum = vexp_nonpos(wasm_f32x4_sub(wasm_v128_load(tail), vmx));
        wasm_v128_store(tail, vsum); /* the padding lanes are exp(-inf) = 0 */
        for (size_t s = 0; s < n4; s += 4) {
            const v128_t e = vexp_nonpos(wasm_f32x4_sub(wasm_v128_load(row + s), vmx));
            wasm_v128_store(row + s, e);
            vsum = wasm_f32x4_add(vsum, e);
        }

        const v128_t vinv = wasm_f32x4_splat(1.0f / hsum(vsum));
        for (size_t s = 0; s < n4; s += 4) wasm_v128_store(row + s, wasm_f32x4_mul(wasm_v128_load(row + s), vinv));
        wasm_v128_store(tail, wasm_f32x4_mul(wasm_v128_load(tail), vinv));
        memcpy(row + n4, tail, rest * sizeof(float));
        for (size_t s = n; s < (size_t)S; s++) row[s] = 0.0f;
    }
}

/* ------------------------------------------------------------- z tiles */

/* acc[r][i] (r < MR, i < NV) += sum over keys s of p_r[s] * v[s, 4i..4i+3]:
 * keys s in [s_begin, s_common) for every row, then keys
 * s in [max(s_begin, s_common), s_end) only for rows r >= s - s_common + 1
 * (the causal staircase inside a row group; s_end <= s_common + MR - 1).
 * p[r] points at row r's weight of key s_begin, v at row s_begin, column 0
 * of the tile (rows vs apart). In key order, so each sum is the reference's. */
US_INLINE void pv_tile(const int MR, const int NV, const float *const p[4], const float *v,
                       size_t vs, size_t s_begin, size_t s_common, size_t s_end, v128_t acc[4][8]) {
    size_t s = s_begin, i = 0; /* i = s - s_begin */
    for (; s < s_common; s++, i++, v += vs) {
        v128_t b[8];
        for (int c = 0; c < NV; c++) b[c] = wasm_v128_load(v + 4 * c);
        for (int r = 0; r < MR; r++) {
            const v128_t a = wasm_v128_load32_splat(p[r] + i);
            for (int c = 0; c < NV; c++) acc[r][c] = wasm_f32x4_add(acc[r][c], wasm_f32x4_mul(a, b[c]));
        }
    }
    for (; s < s_end; s++, i++, v += vs) {
        const size_t first = s - s_common + 1; /* the first row that sees key s */
        for (int r = 1; r < MR; r++) {
            if ((size_t)r < first) continue;
            const v128_t a = wasm_v128_load32_splat(p[r] + i);
            for (int c = 0; c < NV; c++)
                acc[r][c] = wasm_f32x4_add(acc[r][c], wasm_f32x4_mul(a, wasm_v128_load(v + 4 * c)));
        }
    }
}

/* z rows t0..t0+MR-1 = pattern · v, columns in tiles of 4 NV, then 4, then
 * one by one. Row r sums keys s < min(common + r, end): causal, common =
 * past + t0 + 1 and end = common + MR - 1; dense, common = end = S. */
US_INLINE void pv_group(const int MR, const int NV, int32_t hs, size_t common, size_t end,
                        const float *pattern, size_t ps, const float *v, size_t vs, float *z,
                        size_t zs) {
    const float *p[4];
    for (int r = 0; r < MR; r++) p[r] = pattern + (size_t)r * ps;
    v128_t acc[4][8];
    size_t j = 0;
    for (; j + 4u * NV <= (size_t)hs; j += 4u * NV) {
        for (int r = 0; r < MR; r++)
            for (int i = 0; i < NV; i++) acc[r][i] = wasm_f32x4_splat(0.0f);
        pv_tile(MR, NV, p, v + j, vs, 0, common, end, acc);
        for (int r = 0; r < MR; r++)
            for (int i = 0; i < NV; i++) wasm_v128_store(z + r * zs + j + 4 * i, acc[r][i]);
    }
    for (; j + 4 <= (size_t)hs; j += 4) {
        for (int r = 0; r < MR; r++) acc[r][0] = wasm_f32x4_splat(0.0f);
        pv_tile(MR, 1, p, v + j, vs, 0, common, end, acc);
        for (int r = 0; r < MR; r++) wasm_v128_store(z + r * zs + j, acc[r][0]);
    }
    for (; j < (size_t)hs; j++)
        for (int r = 0; r < MR; r++) {
            const size_t keys = common + r < end ? common + r : end;
            float a = 0.0f;
            for (size_t s = 0; s < keys; s++) a += p[r][s] * v[s * vs + j];
            z[r * zs + j] = a;
        }
}

/* Both pattern · V kernels: causal (keys s <= past + t) or dense (all S). */
static void pv_rows(int dense, int32_t T, int32_t S, int32_t hs, const float *pattern,
                    int32_t pattern_stride, const float *v, int32_t v_stride, float *z,
                    int32_t z_stride) {
    const int32_t past = S - T;
    const size_t ps = (size_t)pattern_stride, vs = (size_t)v_stride, zs = (size_t)z_stride;
#define US_PV_GROUP(MR, NV)                                                                      \
    pv_group(MR, NV, hs, dense ? (size_t)S : (size_t)(past + t0) + 1,                            \
             dense ? (size_t)S : (size_t)(past + t0) + MR, pattern + t0 * ps, ps, v, vs,         \
             z + t0 * zs, zs)
    int32_t t0 = 0;
    for (; t0 + 4 <= T; t0 += 4) US_PV_GROUP(4, 2);
    switch (T - t0) {
    case 3: US_PV_GROUP(3, 2); break;
    case 2: US_PV_GROUP(2, 4); break;
    case 1: US_PV_GROUP(1, 8); break;
    default: break;
    }
#undef US_PV_GROUP
}

void us_f32_attention_pv__wasmsimd(int32_t T, int32_t S, int32_t hs, const float *pattern,
                                   int32_t pattern_stride, const float *v, int32_t v_stride,
                                   float *z, int32_t z_stride) {
    if (T < 1 || S < T || hs < 1) return;
    pv_rows(0, T, S, hs, pattern, pattern_stride, v, v_stride, z, z_stride);
}

void us_f32_attention_pv_dense__wasmsimd(int32_t T, int32_t S, int32_t hs, const float *pattern,
                                         int32_t pattern_stride, const float *v, int32_t v_stride,
                                         float *z, int32_t z_stride) {
    if (T < 1 || S < 1 || hs < 1) return;
    pv_rows(1, T, S, hs, pattern, pattern_stride, v, v_stride, z, z_stride);
}

/* -------------------------------------------------------------- fused */

/* Rows t0..t0+MR-1 of z by online softmax over blocks of FUSED_KB keys.
 * Per row: the running max m and sum l of exp(score - m); z holds the running
 * sum of exp(score - m) v. A block: its scores (masked keys -inf) into sb,
 * m_new = max(m, block max), corr = exp(m - m_new) (0 on the first block, 1
 * when the max stays), sb = exp(sb - m_new), l = l corr + sum(sb),
 * z = z corr + sb · v (keys in order, the staircase as in pv_tile). At the
 * end z /= l, as one multiplication by 1 / l. */
US_INLINE void fused_group(const int MR, const int NV, int32_t hs, int32_t past, int32_t t0,
                           const float *q, size_t qs, const float *k, size_t ks, const float *pk,
                           const float *v, size_t vs, float *z, size_t zs, scale_t scale) {
    const size_t H = (size_t)hs, pstride = H * 8;
    const size_t common = (size_t)(past + t0) + 1; /* keys every row of the group sees */
    const size_t end = common + MR - 1;            /* keys the last row sees */
    float sb[4][FUSED_KB] __attribute__((aligned(16))); /* a block's scores, then weights */
    const float *pr[4];
    float m[4], l[4];
    for (int r = 0; r < MR; r++) {
        m[r] = -INFINITY;
        l[r] = 0.0f;
        pr[r] = sb[r];
        memset(z + r * zs, 0, H * sizeof(float));
    }
    for (size_t s0 = 0; s0 < end; s0 += FUSED_KB) {
        const size_t nk = end - s0 < FUSED_KB ? end - s0 : FUSED_KB; /* keys in this block */
        const size_t panels = (nk + 7) / 8;
        /* the block's scores, -inf where masked (keys past a row's limit,
         * including the packed zeros past S), into sb */
        v128_t sacc[4][2];
        if (MR == 1) { /* one row: keys in place, all unmasked; pad to the panel */
            scores_row_direct(H, q, k + s0 * ks, ks, nk, sb[0], scale);
            for (size_t i = nk; i < panels * 8; i++) sb[0][i] = -INFINITY;
        }
        for (size_t p = 0; MR > 1 && p < panels; p++) {
            scores_tile(MR, H, q, qs, pk + (s0 / 8 + p) * pstride, scale, sacc);
            for (int r = 0; r < MR; r++) {
                const int32_t lim = past + t0 + r;
                for (int i = 0; i < 2; i++) {
                    v128_t x = sacc[r][i];
                    const int32_t key0 = (int32_t)(s0 + p * 8) + 4 * i;
                    if (key0 + 3 > lim) { /* some of these 4 keys are masked */
                        const v128_t keys = wasm_i32x4_add(wasm_i32x4_splat(key0), wasm_i32x4_make(0, 1, 2, 3));
                        x = wasm_v128_bitselect(wasm_f32x4_splat(-INFINITY), x,
                                                wasm_i32x4_gt(keys, wasm_i32x4_splat(lim)));
                    }
                    wasm_v128_store(&sb[r][p * 8 + 4 * i], x);
                }
            }
        }
        /* the softmax update of each row; sb becomes exp(score - m_new) */
        v128_t vcorr[4];
        for (int r = 0; r < MR; r++) {
            v128_t vmax = wasm_v128_load(&sb[r][0]);
            for (size_t i = 4; i < panels * 8; i += 4) vmax = wasm_f32x4_pmax(vmax, wasm_v128_load(&sb[r][i]));
            const float bmax = hmax(vmax);
            const float m_new = bmax > m[r] ? bmax : m[r];
            const v128_t vm = wasm_f32x4_splat(m_new);
            vcorr[r] = vexp_nonpos(wasm_f32x4_sub(wasm_f32x4_splat(m[r]), vm));
            v128_t vsum = wasm_f32x4_splat(0.0f);
            for (size_t i = 0; i < panels * 8; i += 4) {
                const v128_t e = vexp_nonpos(wasm_f32x4_sub(wasm_v128_load(&sb[r][i]), vm));
                wasm_v128_store(&sb[r][i], e);
                vsum = wasm_f32x4_add(vsum, e);
            }
            l[r] = l[r] * wasm_f32x4_extract_lane(vcorr[r], 0) + hsum(vsum);
            m[r] = m_new;
        }
        /* z = z corr + weights · v over the block's keys, in key order */
        const size_t eb = s0 + nk;                  /* the block's end */
        const size_t cb = common < eb ? common : eb; /* where its common keys end */
        const float *vb = v + s0 * vs;
        v128_t zacc[4][8];
        size_t j = 0;
        for (; j + 4u * NV <= H; j += 4u * NV) {
            for (int r = 0; r < MR; r++)
                for (int i = 0; i < NV; i++)
                    zacc[r][i] = wasm_f32x4_mul(wasm_v128_load(z + r * zs + j + 4 * i), vcorr[r]);
            pv_tile(MR, NV, pr, vb + j, vs, s0, cb, eb, zacc);
            for (int r = 0; r < MR; r++)
                for (int i = 0; i < NV; i++) wasm_v128_store(z + r * zs + j + 4 * i, zacc[r][i]);
        }
        for (; j + 4 <= H; j += 4) {
            for (int r = 0; r < MR; r++) zacc[r][0] = wasm_f32x4_mul(wasm_v128_load(z + r * zs + j), vcorr[r]);
            pv_tile(MR, 1, pr, vb + j, vs, s0, cb, eb, zacc);
            for (int r = 0; r < MR; r++) wasm_v128_store(z + r * zs + j, zacc[r][0]);
        }
        for (; j < H; j++)
            for (int r = 0; r < MR; r++) {
                float a = z[r * zs + j] * wasm_f32x4_extract_lane(vcorr[r], 0);
                const size_t last = common + r < eb ? common + r : eb; /* row r's keys end */
                for (size_t s = s0; s < last; s++) a += sb[r][s - s0] * v[s * vs + j];
                z[r * zs + j] = a;
            }
    }
    for (int r = 0; r < MR; r++) {
        const float inv = 1.0f / l[r];
        const v128_t vinv = wasm_f32x4_splat(inv);
        float *zr = z + r * zs;
        size_t j = 0;
        for (; j + 4 <= H; j += 4) wasm_v128_store(zr + j, wasm_f32x4_mul(wasm_v128_load(zr + j), vinv));
        for (; j < H; j++) zr[j] *= inv;
    }
}

void us_f32_attention_fused__wasmsimd(int32_t T, int32_t S, int32_t hs, const float *q,
                                      int32_t q_stride, const float *k, int32_t k_stride,
                                      const float *v, int32_t v_stride, float *z,
                                      int32_t z_stride, float *scratch) {
    if (T < 1 || S < T || hs < 1) return;
    const int32_t past = S - T;
    const size_t qs = (size_t)q_stride, vs = (size_t)v_stride, zs = (size_t)z_stride;
    const scale_t scale = make_scale(hs);
    const size_t ks = (size_t)k_stride;
    if (T >= 2) pack_keys(S, hs, k, ks, scratch); /* one row reads k in place */
    int32_t t0 = 0;
    for (; t0 + 4 <= T; t0 += 4)
        fused_group(4, 2, hs, past, t0, q + t0 * qs, qs, k, ks, scratch, v, vs, z + t0 * zs, zs, scale);
    switch (T - t0) {
    case 3: fused_group(3, 2, hs, past, t0, q + t0 * qs, qs, k, ks, scratch, v, vs, z + t0 * zs, zs, scale); break;
    case 2: fused_group(2, 4, hs, past, t0, q + t0 * qs, qs, k, ks, scratch, v, vs, z + t0 * zs, zs, scale); break;
    case 1: fused_group(1, 8, hs, past, t0, q + t0 * qs, qs, k, ks, scratch, v, vs, z + t0 * zs, zs, scale); break;
    default: break;
    }
}

#else
typedef int us_f32_attention__wasmsimd_not_built; /* ISO C wants a declaration */
#endif
