/* test_model.c — the module tree, point naming, and the hook mechanism in C:
 * ASK before paying, OBSERVE only watched points, in execution order, a
 * stopping hook, shape errors that name the layer, and the model staying
 * usable after every error. */
#include <string.h>

#include "harness.h"
#include "unseal.h"

/* Records every hook call. `watch` is a bitmask of watched points. */
typedef struct rec {
    unsigned watch;
    int asks, observes;
    int order[64];
    int stop_at; /* point whose OBSERVE returns 1, or -1 */
    float scale; /* multiply watched outputs by this (1 = leave) */
} rec;

static int record(void *user, int32_t point, us_hook_phase phase, const us_tensor *in, us_tensor *out) {
    rec *r = user;
    if (phase == US_HOOK_ASK) {
        r->asks++;
        CHECK(in == NULL && out == NULL);
        return (r->watch >> point) & 1u;
    }
    CHECK((r->watch >> point) & 1u); /* observed only when watched */
    CHECK(in != NULL && out != NULL);
    if (r->observes < 64) r->order[r->observes] = point;
    r->observes++;
    if (r->scale != 1.0f) {
        float *d = out->data;
        for (int64_t i = 0; i < us_tensor_numel(out); i++) d[i] *= r->scale;
    }
    return point == r->stop_at;
}

/* Sequential(Linear(2,3), ReLU(), Sequential(Linear(3,2), Tanh())) with fixed weights. */
static us_model *make_model(void) {
    us_error err = {0};
    us_module *seq = us_sequential_new(), *inner = us_sequential_new();
    us_module *l0 = us_linear_new(2, 3, 1), *relu = us_activation_new(US_MOD_RELU);
    us_module *l1 = us_linear_new(3, 2, 1), *th = us_activation_new(US_MOD_TANH);
    float *w0 = us_module_param(l0, 0)->data, *b0 = us_module_param(l0, 1)->data;
    float *w1 = us_module_param(l1, 0)->data, *b1 = us_module_param(l1, 1)->data;
    const float W0[6] = {1, 0, 0, 1, 1, -1}, B0[3] = {0, 0.5f, -0.25f};
    const float W1[6] = {0.5f, -1, 0.25f, 1, 1, 1}, B1[2] = {0.1f, -0.1f};
    memcpy(w0, W0, sizeof W0); memcpy(b0, B0, sizeof B0);
    memcpy(w1, W1, sizeof W1); memcpy(b1, B1, sizeof B1);
    us_module_params_changed(l0);
    us_module_params_changed(l1);
    us_sequential_append(seq, l0, &err);
    us_sequential_append(seq, relu, &err);
    us_sequential_append(inner, l1, &err);
    us_sequential_append(inner, th, &err);
    us_sequential_append(seq, inner, &err);
    us_module_release(l0); us_module_release(relu); us_module_release(l1);
    us_module_release(th); us_module_release(inner);
    us_model *m = us_model_new(seq, &err);
    us_module_release(seq); /* the model keeps the tree alive */
    return m;
}

/* The expected output for input x (2 values), computed by hand. */
static void expected(const float *x, float *y) {
    float h[3] = {x[0], x[1] + 0.5f, x[0] - x[1] - 0.25f};
    for (int i = 0; i < 3; i++) h[i] = h[i] > 0 ? h[i] : 0;
    y[0] = tanhf(0.5f * h[0] - h[1] + 0.25f * h[2] + 0.1f);
    y[1] = tanhf(h[0] + h[1] + h[2] - 0.1f);
}

static void test_names(void) {
    us_model *m = make_model();
    REQUIRE(m);
    const char *want[] = {"0", "1", "2", "2->0", "2->1"};
    CHECK(us_model_num_points(m) == 5);
    for (int i = 0; i < 5; i++) CHECK(!strcmp(us_model_point_name(m, i), want[i]));
    CHECK(us_model_find_point(m, "2->1") == 4);
    CHECK(us_model_find_point(m, "2->2") == -1);
    CHECK(us_module_get_kind(us_model_point_module(m, 3)) == US_MOD_LINEAR);
    us_model_free(m);
}

static void test_forward_values_and_no_hook(void) {
    us_model *m = make_model();
    REQUIRE(m);
    float x[4] = {0.3f, -0.2f, 1.5f, 2.0f}, y[4];
    us_tensor in = us_tensor_f32(x, 2, (int32_t[]){2, 2}), out;
    us_error err = {0};
    REQUIRE(us_model_forward(m, &in, &out, NULL, NULL, &err) == US_OK);
    CHECK(out.ndim == 2 && out.shape[0] == 2 && out.shape[1] == 2);
    expected(x, y);
    expected(x + 2, y + 2);
    for (int i = 0; i < 4; i++) CHECK_NEAR(((float *)out.data)[i], y[i], 1e-6);
    us_model_free(m);
}

static void test_ask_then_observe_only_watched(void) {
    us_model *m = make_model();
    REQUIRE(m);
    float x[2] = {0.3f, -0.2f};
    us_tensor in = us_tensor_f32(x, 2, (int32_t[]){1, 2}), out;
    us_error err = {0};
    rec r = {.watch = (1u << 0) | (1u << 2) | (1u << 4), .stop_at = -1, .scale = 1.0f};
    REQUIRE(us_model_forward(m, &in, &out, record, &r, &err) == US_OK);
    CHECK(r.asks == 5);     /* every point is asked once */
    CHECK(r.observes == 3); /* only the watched ones observed */
    /* execution order: 0, then 2->1 (point 4), then its parent 2 */
    CHECK(r.order[0] == 0 && r.order[1] == 4 && r.order[2] == 2);
    us_model_free(m);
}

static void test_in_place_edit_flows_downstream(void) {
    us_model *m = make_model();
    REQUIRE(m);
    float x[2] = {0.3f, -0.2f}, y[2];
    us_tensor in = us_tensor_f32(x, 2, (int32_t[]){1, 2}), out;
    us_error err = {0};
    rec r = {.watch = 1u << 1, .stop_at = -1, .scale = 0.0f}; /* zero the ReLU's output */
    REQUIRE(us_model_forward(m, &in, &out, record, &r, &err) == US_OK);
    CHECK_NEAR(((float *)out.data)[0], tanhf(0.1f), 1e-7);
    CHECK_NEAR(((float *)out.data)[1], tanhf(-0.1f), 1e-7);
    /* and the next forward without hooks is back to normal */
    REQUIRE(us_model_forward(m, &in, &out, NULL, NULL, &err) == US_OK);
    expected(x, y);
    CHECK_NEAR(((float *)out.data)[0], y[0], 1e-6);
    us_model_free(m);
}

static void test_hook_stop(void) {
    us_model *m = make_model();
    REQUIRE(m);
    float x[2] = {1, 1};
    us_tensor in = us_tensor_f32(x, 2, (int32_t[]){1, 2}), out;
    us_error err = {0};
    rec r = {.watch = 0x1f, .stop_at = 3, .scale = 1.0f};
    CHECK(us_model_forward(m, &in, &out, record, &r, &err) == US_ERR_HOOK);
    CHECK(strstr(err.message, "'2->0'") != NULL);
    CHECK(r.observes == 3); /* 0, 1, 2->0 then stop */
    us_error err2 = {0};
    CHECK(us_model_forward(m, &in, &out, NULL, NULL, &err2) == US_OK);
    us_model_free(m);
}

static void test_shape_errors_name_layer(void) {
    us_model *m = make_model();
    REQUIRE(m);
    float x[3] = {1, 2, 3};
    us_tensor in = us_tensor_f32(x, 2, (int32_t[]){1, 3}), out;
    us_error err = {0};
    CHECK(us_model_forward(m, &in, &out, NULL, NULL, &err) == US_ERR_SHAPE);
    CHECK(strstr(err.message, "layer '0' (Linear)") != NULL);
    CHECK(strstr(err.message, "[1, 3]") != NULL);
    int32_t ids[2] = {0, 1};
    us_tensor tin = us_tensor_make(US_I32, ids, 1, (int32_t[]){2});
    CHECK(us_model_forward(m, &tin, &out, NULL, NULL, &err) == US_ERR_DTYPE);
    float ok[2] = {0, 0};
    us_tensor good = us_tensor_f32(ok, 2, (int32_t[]){1, 2});
    CHECK(us_model_forward(m, &good, &out, NULL, NULL, &err) == US_OK);
    us_model_free(m);
}

static void test_shared_module_runs_twice(void) {
    us_error err = {0};
    us_module *seq = us_sequential_new(), *relu = us_activation_new(US_MOD_RELU);
    us_module *id = us_activation_new(US_MOD_IDENTITY);
    us_sequential_append(seq, relu, &err);
    us_sequential_append(seq, id, &err);
    us_sequential_append(seq, relu, &err);
    CHECK(us_sequential_append(seq, seq, &err) == US_ERR_INVALID_ARG); /* no cycles */
    us_model *m = us_model_new(seq, &err);
    REQUIRE(m);
    CHECK(us_model_num_points(m) == 2); /* "0" and "1"; the second relu keeps its first name */
    float x[3] = {-1, 0, 2};
    us_tensor in = us_tensor_f32(x, 1, (int32_t[]){3}), out;
    rec r = {.watch = 1u, .stop_at = -1, .scale = 1.0f};
    REQUIRE(us_model_forward(m, &in, &out, record, &r, &err) == US_OK);
    CHECK(r.observes == 2);
    us_model_free(m);
    us_module_release(seq);
    us_module_release(relu);
    us_module_release(id);
}

static void test_embedding_range_and_softmax_dim(void) {
    us_error err = {0};
    us_module *seq = us_sequential_new(), *emb = us_embedding_new(4, 3), *sm = us_softmax_new(-3);
    us_sequential_append(seq, emb, &err);
    us_sequential_append(seq, sm, &err);
    us_model *m = us_model_new(seq, &err);
    REQUIRE(m);
    int32_t ids[2] = {1, 4};
    us_tensor in = us_tensor_make(US_I32, ids, 1, (int32_t[]){2}), out;
    CHECK(us_model_forward(m, &in, &out, NULL, NULL, &err) == US_ERR_RANGE);
    CHECK(strstr(err.message, "index 4 at position 1") != NULL);
    ids[1] = 3;
    CHECK(us_model_forward(m, &in, &out, NULL, NULL, &err) == US_ERR_RANGE); /* dim -3 of a 2-D output */
    CHECK(strstr(err.message, "dim -3") != NULL);
    us_model_free(m);
    us_module_release(seq); us_module_release(emb); us_module_release(sm);
}

int main(void) {
    US_RUN(test_names);
    US_RUN(test_forward_values_and_no_hook);
    US_RUN(test_ask_then_observe_only_watched);
    US_RUN(test_in_place_edit_flows_downstream);
    US_RUN(test_hook_stop);
    US_RUN(test_shape_errors_name_layer);
    US_RUN(test_shared_module_runs_twice);
    US_RUN(test_embedding_range_and_softmax_dim);
    return us_harness_summary();
}
