/* test_gpt2.c — GPT-2's two ways of holding its weights (src/models/gpt2.c):
 * a packed model (us_gpt2_new_packed, the matmul weights only as GEMM packs,
 * filled with us_gpt2_param_write in uneven pieces) against a plain one
 * (us_gpt2_new, parameters written in place) with the same values: the same
 * logits, unembedding and gradients bit for bit, parameters read back
 * exactly, moves between packed and plain, F16 packs, and errors that name
 * the parameter. Random weights from a fixed seed; no files. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "unseal.h"

static const us_gpt2_config CFG = {37, 16, 24, 2, 3, 0, 1e-5f}; /* V, n_positions, C, L, H, F = 4C, eps */
enum { B = 2, T = 5 };

/* Fills every parameter of a plain model with random values (LayerNorm
 * weights near 1); with `round`, each value is one an f16 holds exactly. */
static void fill_plain(us_gpt2 *m, int round) {
    for (int32_t i = 0; i < us_gpt2_num_params(m); i++) {
        us_tensor *t = us_gpt2_param(m, i);
        float *d = t->data;
        const int ln_weight = strstr(t->name, "ln_") && strstr(t->name, ".weight");
        for (int64_t j = 0; j < us_tensor_numel(t); j++) {
            float v = (ln_weight ? 1.0f : 0.0f) + 0.2f * rng_uniform();
            d[j] = round ? us_f16_to_f32(us_f32_to_f16(v)) : v;
        }
    }
    us_gpt2_params_changed(m);
}

/* Writes every parameter of `from` (plain) into `to` through
 * us_gpt2_param_write, in pieces of `piece` elements that cut rows anywhere. */
static int copy_params(us_gpt2 *to, us_gpt2 *from, int64_t piece) {
    us_error err = {0};
    for (int32_t i = 0; i < us_gpt2_num_params(from); i++) {
        const us_tensor *t = us_gpt2_param(from, i);
        const int64_t n = us_tensor_numel(t);
        for (int64_t first = 0; first < n; first += piece) {
            const int64_t len = n - first < piece ? n - first : piece;
            if (us_gpt2_param_write(to, i, first, len, (const float *)t->data + first, US_F32, &err) != US_OK) {
                fprintf(stderr, "  %s\n", err.message);
                return 1;
            }
        }
    }
    return 0;
}

/* Logits [B, T, V] of a forward on fixed ids, into out. */
static int run(us_gpt2 *m, float *out) {
    int32_t ids[B * T];
    for (int i = 0; i < B * T; i++) ids[i] = (i * 7 + 3) % CFG.vocab_size;
    us_tensor tids = us_tensor_make(US_I32, ids, 2, (const int32_t[]){B, T}), logits;
    us_error err = {0};
    if (us_gpt2_forward(m, &tids, NULL, &logits, NULL, NULL, &err) != US_OK) {
        fprintf(stderr, "  forward: %s\n", err.message);
        return 1;
    }
    memcpy(out, logits.data, sizeof(float) * B * T * CFG.vocab_size);
    return 0;
}

/* Every parameter gradient (the plain layout, all of it) of the mean
 * next-token cross-entropy on the same ids, into out (n floats). */
static int grads(us_gpt2 *m, float *out, size_t n) {
    int32_t ids[B * T];
    for (int i = 0; i < B * T; i++) ids[i] = (i * 5 + 1) % CFG.vocab_size;
    us_tensor tids = us_tensor_make(US_I32, ids, 2, (const int32_t[]){B, T}), logits;
    us_error err = {0};
    us_gpt2_grad *g = us_gpt2_grad_new(m, &err);
    float *dlogits = malloc(sizeof(float) * B * T * CFG.vocab_size), loss;
    int32_t scored, bad = 1;
    size_t got = 0;
    if (g && dlogits && us_gpt2_forward_train(m, &tids, g, &logits, NULL, NULL, &err) == US_OK &&
        us_gpt2_loss(g, m, ids, &loss, &scored, dlogits, &err) == US_OK &&
        us_gpt2_backward(m, g, dlogits, NULL, NULL, &err) == US_OK) {
        const float *all = us_gpt2_grad_all(g, &got);
        if (got == n) memcpy(out, all, sizeof(float) * n), bad = 0;
    }
    if (bad) fprintf(stderr, "  gradients: %s (%zu of %zu floats)\n", err.message, got, n);
    free(dlogits);
    us_gpt2_grad_free(g);
    return bad;
}

static int same(const float *a, const float *b, size_t n) { return memcmp(a, b, sizeof(float) * n) == 0; }

static void test_packed_equals_plain(void) {
    us_error err = {0};
    us_gpt2 *plain = us_gpt2_new(&CFG, &err), *packed = us_gpt2_new_packed(&CFG, US_F32, &err);
    REQUIRE(plain && packed);
    CHECK(us_gpt2_has_plain_weights(plain) == 1 && us_gpt2_has_plain_weights(packed) == 0);
    size_t n_all = 0;
    CHECK(us_gpt2_params_all(plain, &n_all) != NULL);
    size_t n_packed = 0;
    CHECK(us_gpt2_params_all(packed, &n_packed) == NULL && n_packed == n_all);
    /* the matmul weights have no plain data in a packed model; the others do */
    CHECK(us_gpt2_param(packed, 0)->data == NULL && us_gpt2_param(packed, 1)->data != NULL);
    fill_plain(plain, 0);
    REQUIRE(copy_params(packed, plain, 7) == 0);

    const size_t nl = (size_t)B * T * CFG.vocab_size;
    float *a = malloc(sizeof(float) * nl), *b = malloc(sizeof(float) * nl);
    float *ga = malloc(sizeof(float) * n_all), *gb = malloc(sizeof(float) * n_all);
    REQUIRE(a && b && ga && gb);
    REQUIRE(run(plain, a) == 0 && run(packed, b) == 0);
    CHECK(same(a, b, nl));

    /* parameters read back exactly, in any piece */
    for (int32_t i = 0; i < us_gpt2_num_params(plain); i++) {
        const us_tensor *t = us_gpt2_param(plain, i);
        const int64_t n = us_tensor_numel(t);
        float *r = malloc(sizeof(float) * (size_t)n);
        REQUIRE(r != NULL);
        for (int64_t first = 0; first < n; first += 11)
            CHECK(us_gpt2_param_read(packed, i, first, n - first < 11 ? n - first : 11, r + first, &err) == US_OK);
        CHECK(same(r, t->data, (size_t)n));
        free(r);
    }

    /* the unembedding (lm_head from wte's pack) */
    float x[2 * 24], ua[2 * 37], ub[2 * 37];
    for (int i = 0; i < 2 * 24; i++) x[i] = rng_uniform();
    CHECK(us_gpt2_unembed(plain, x, 2, ua, 1, &err) == US_OK && us_gpt2_unembed(packed, x, 2, ub, 1, &err) == US_OK);
    CHECK(same(ua, ub, 2 * 37));

    /* gradients: the backward reads the packs for dinp */
    REQUIRE(grads(plain, ga, n_all) == 0 && grads(packed, gb, n_all) == 0);
    CHECK(same(ga, gb, n_all));

    /* plain and back: same values, same logits */
    REQUIRE(us_gpt2_set_plain_weights(packed, 1, &err) == US_OK);
    CHECK(us_gpt2_has_plain_weights(packed) == 1);
    size_t n2 = 0;
    const float *all_a = us_gpt2_params_all(plain, NULL), *all_b = us_gpt2_params_all(packed, &n2);
    CHECK(all_b != NULL && n2 == n_all && same(all_a, all_b, n_all));
    REQUIRE(run(packed, b) == 0);
    CHECK(same(a, b, nl));
    /* an edit in the plain copy (as the optimizer makes) reaches the packs */
    ((float *)us_gpt2_param(packed, 0)->data)[5] += 0.5f;
    ((float *)us_gpt2_param(plain, 0)->data)[5] += 0.5f;
    us_gpt2_params_changed(packed);
    us_gpt2_params_changed(plain);
    REQUIRE(run(plain, a) == 0 && run(packed, b) == 0);
    CHECK(same(a, b, nl));
    REQUIRE(us_gpt2_set_plain_weights(packed, 0, &err) == US_OK);
    CHECK(us_gpt2_has_plain_weights(packed) == 0 && us_gpt2_param(packed, 0)->data == NULL);
    REQUIRE(run(packed, b) == 0);
    CHECK(same(a, b, nl));
    REQUIRE(grads(plain, ga, n_all) == 0 && grads(packed, gb, n_all) == 0);
    CHECK(same(ga, gb, n_all));

    /* an edit through us_gpt2_param_write (a Conv1D weight's middle rows, as F16) */
    const int32_t c_fc = 2 + 8; /* transformer.h.0.mlp.c_fc.weight [24, 96] */
    uint16_t h[150];
    float hf[150];
    for (int i = 0; i < 150; i++) h[i] = us_f32_to_f16(rng_uniform()), hf[i] = us_f16_to_f32(h[i]);
    CHECK(us_gpt2_param_write(packed, c_fc, 130, 150, h, US_F16, &err) == US_OK);
    memcpy((float *)us_gpt2_param(plain, c_fc)->data + 130, hf, sizeof hf);
    us_gpt2_params_changed(plain);
    REQUIRE(run(plain, a) == 0 && run(packed, b) == 0);
    CHECK(same(a, b, nl));

    free(a), free(b), free(ga), free(gb);
    us_gpt2_free(plain);
    us_gpt2_free(packed);
}

/* F16 packs: a packed F16 model equals a plain model holding the same
 * (f16-exact) values with its packs stored as F16, embedding included; a
 * packed F32 model converted to F16 in place equals both. */
static void test_packed_f16(void) {
    us_error err = {0};
    us_gpt2 *plain = us_gpt2_new(&CFG, &err), *p16 = us_gpt2_new_packed(&CFG, US_F16, &err);
    us_gpt2 *p32 = us_gpt2_new_packed(&CFG, US_F32, &err);
    REQUIRE(plain && p16 && p32);
    fill_plain(plain, 1);
    REQUIRE(us_gpt2_set_weight_dtype(plain, US_F16, &err) == US_OK);
    REQUIRE(copy_params(p16, plain, 13) == 0 && copy_params(p32, plain, 1000) == 0);
    REQUIRE(us_gpt2_set_weight_dtype(p32, US_F16, &err) == US_OK);
    const size_t nl = (size_t)B * T * CFG.vocab_size;
    float *a = malloc(sizeof(float) * nl), *b = malloc(sizeof(float) * nl), *c = malloc(sizeof(float) * nl);
    REQUIRE(a && b && c);
    REQUIRE(run(plain, a) == 0 && run(p16, b) == 0 && run(p32, c) == 0);
    CHECK(same(a, b, nl) && same(a, c, nl));
    /* rounding happens at the write: reading back gives the halves */
    const float v[3] = {0.1f, 1e-6f, 70000.0f};
    float r[3];
    CHECK(us_gpt2_param_write(p16, 0, 3, 3, v, US_F32, &err) == US_OK);
    CHECK(us_gpt2_param_read(p16, 0, 3, 3, r, &err) == US_OK);
    for (int i = 0; i < 3; i++) CHECK(memcmp(&r[i], &(float){us_f16_to_f32(us_f32_to_f16(v[i]))}, 4) == 0);
    REQUIRE(run(p16, b) == 0); /* finishes the written pack */
    free(a), free(b), free(c);
    us_gpt2_free(plain), us_gpt2_free(p16), us_gpt2_free(p32);
}

static void test_param_errors(void) {
    us_error err = {0};
    us_gpt2 *m = us_gpt2_new_packed(&CFG, US_F32, &err);
    REQUIRE(m != NULL);
    float v[4] = {0};
    CHECK(us_gpt2_param_write(m, 0, 37 * 24 - 3, 4, v, US_F32, &err) == US_ERR_RANGE);
    CHECK(strstr(err.message, "transformer.wte.weight") != NULL);
    CHECK(us_gpt2_param_read(m, 1, -1, 1, v, &err) == US_ERR_INVALID_ARG);
    CHECK(us_gpt2_param_write(m, 2, 0, 1, v, US_I32, &err) == US_ERR_DTYPE);
    CHECK(strstr(err.message, "transformer.h.0.ln_1.weight") != NULL);
    CHECK(us_gpt2_param_read(m, 99, 0, 1, v, &err) == US_ERR_INVALID_ARG);
    CHECK(us_gpt2_new_packed(&CFG, US_BF16, &err) == NULL && err.code == US_ERR_DTYPE);
    us_gpt2_config huge = CFG;
    huge.vocab_size = 1 << 30;
    CHECK(us_gpt2_new_packed(&huge, US_F32, &err) == NULL && err.code == US_ERR_OOM);
    us_gpt2_free(m);
}

int main(void) {
    US_RUN(test_packed_equals_plain);
    US_RUN(test_packed_f16);
    US_RUN(test_param_errors);
    return us_harness_summary();
}
