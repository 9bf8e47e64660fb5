/* model.c — a model: the table of hook points of a module tree, and the
 * forward that runs the tree, asking the hook at every point.
 *
 * Points are the distinct modules below the root in pre-order, named as
 * Unseal names them ("2->0": child indices joined by "->"). A module that
 * appears twice keeps its first name (as PyTorch's named_modules) but runs,
 * and reaches its point, every time it is called. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "kernels/vgelu.h"
#include "nn/module_internal.h"
#include "ops/ops.h"
#include "ops/ops_backward.h"

typedef struct point_ref {
    const us_module *module;
    int32_t point;
} point_ref;

/* One module call of a recorded forward, in call (pre-)order. */
typedef struct tape_entry {
    us_module *module;
    int32_t point; /* -1 for the root */
    us_tensor in, out;
} tape_entry;

struct us_model {
    us_module *root;      /* one reference */
    tape_entry *tape;     /* the recorded forward (owned), n_tape entries */
    int32_t n_tape, cap_tape;
    int recording, recorded;
    us_tensor last_input; /* of the recorded forward */
    int32_t n_points;
    us_module **modules;  /* [n_points], borrowed from the tree */
    char **names;         /* [n_points], owned */
    point_ref *by_module; /* [n_points], sorted by module address */
    us_arena arena;       /* activations of the current forward */
    us_threadpool *pool;  /* borrowed compute threads for Linear layers, or NULL */
};

static const char *kind_name(us_module_kind k) {
    static const char *names[US_MOD_KIND_COUNT] = {
        "Sequential", "Linear", "ReLU",    "GELU",      "GELU", "Tanh",
        "Sigmoid",    "Softmax", "LayerNorm", "Embedding", "Dropout", "Identity"};
    return (k >= 0 && k < US_MOD_KIND_COUNT) ? names[k] : "?";
}

/* ---------------------------------------------------------------- building */

typedef struct builder {
    us_model *model;
    int32_t cap;
} builder;

static int32_t find_point(const us_model *model, const us_module *m);

static int visited(const us_model *model, const us_module *m) {
    for (int32_t i = 0; i < model->n_points; i++)
        if (model->modules[i] == m) return 1;
    return 0;
}

/* Adds `m` named `name` (owned by this call on success) and recurses. */
static us_status add_points(builder *b, us_module *m, char *name, us_error *err) {
    us_model *model = b->model;
    if (visited(model, m)) {
        free(name);
        return US_OK;
    }
    if (model->n_points == b->cap) {
        int32_t cap = b->cap ? b->cap * 2 : 16;
        us_module **mods = realloc(model->modules, sizeof *mods * (size_t)cap);
        if (mods) model->modules = mods;
        char **names = realloc(model->names, sizeof *names * (size_t)cap);
        if (names) model->names = names;
        if (!mods || !names) {
            free(name);
            return us_fail(err, US_ERR_OOM, "building the layer table: out of memory");
        }
        b->cap = cap;
    }
    model->modules[model->n_points] = m;
    model->names[model->n_points] = name;
    model->n_points++;
    for (int32_t i = 0; i < m->n_children; i++) {
        size_t len = strlen(name) + 16;
        char *child = malloc(len);
        if (!child) return us_fail(err, US_ERR_OOM, "building the layer table: out of memory");
        snprintf(child, len, "%s->%d", name, (int)i);
        us_status s = add_points(b, m->children[i], child, err);
        if (s != US_OK) return s;
    }
    return US_OK;
}

static int cmp_ref(const void *a, const void *b) {
    uintptr_t x = (uintptr_t)((const point_ref *)a)->module;
    uintptr_t y = (uintptr_t)((const point_ref *)b)->module;
    return x < y ? -1 : x > y;
}

us_model *us_model_new(us_module *root, us_error *err) {
    if (!root) {
        us_fail(err, US_ERR_INVALID_ARG, "model: NULL root module");
        return NULL;
    }
    us_model *model = calloc(1, sizeof *model);
    if (!model) {
        us_fail(err, US_ERR_OOM, "model: out of memory");
        return NULL;
    }
    us_module_retain(root);
    model->root = root;
    builder b = {model, 0};
    for (int32_t i = 0; i < root->n_children; i++) {
        char *name = malloc(16);
        if (!name) {
            us_fail(err, US_ERR_OOM, "building the layer table: out of memory");
            us_model_free(model);
            return NULL;
        }
        snprintf(name, 16, "%d", (int)i);
        if (add_points(&b, root->children[i], name, err) != US_OK) {
            us_model_free(model);
            return NULL;
        }
    }
    if (model->n_points > 0) {
        model->by_module = malloc(sizeof *model->by_module * (size_t)model->n_points);
        if (!model->by_module) {
            us_fail(err, US_ERR_OOM, "model: out of memory");
            us_model_free(model);
            return NULL;
        }
        for (int32_t i = 0; i < model->n_points; i++)
            model->by_module[i] = (point_ref){model->modules[i], i};
        qsort(model->by_module, (size_t)model->n_points, sizeof *model->by_module, cmp_ref);
    }
    return model;
}

void us_model_free(us_model *model) {
    if (!model) return;
    for (int32_t i = 0; i < model->n_points; i++) free(model->names[i]);
    free(model->names);
    free(model->modules);
    free(model->by_module);
    free(model->tape);
    us_arena_free(&model->arena);
    us_module_release(model->root);
    free(model);
}

void us_model_set_threadpool(us_model *model, us_threadpool *pool) { model->pool = pool; }

int32_t us_model_num_points(const us_model *model) { return model->n_points; }

const char *us_model_point_name(const us_model *model, int32_t point) {
    return (point >= 0 && point < model->n_points) ? model->names[point] : NULL;
}

us_module *us_model_point_module(const us_model *model, int32_t point) {
    return (point >= 0 && point < model->n_points) ? model->modules[point] : NULL;
}

us_module *us_model_root(const us_model *model) { return model->root; }

int32_t us_model_find_point(const us_model *model, const char *name) {
    for (int32_t i = 0; i < model->n_points; i++)
        if (!strcmp(model->names[i], name)) return i;
    return -1;
}

/* Point of a module by binary search, or -1 (the root, or a module appended
 * after the model was built). */
static int32_t find_point(const us_model *model, const us_module *m) {
    int32_t lo = 0, hi = model->n_points - 1;
    while (lo <= hi) {
        int32_t mid = (lo + hi) / 2;
        const us_module *x = model->by_module[mid].module;
        if (x == m) return model->by_module[mid].point;
        if ((uintptr_t)x < (uintptr_t)m) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

/* ---------------------------------------------------------------- running */

typedef struct run_ctx {
    us_model *model;
    us_hook_fn hook;
    void *user;
    us_error *err;
} run_ctx;

static us_status run_module(run_ctx *r, us_module *m, const us_tensor *in, us_tensor *out);

/* "layer '2->0' (Linear)" or "the model (Sequential)" for messages. */
static const char *where(run_ctx *r, const us_module *m, char *buf, size_t cap) {
    int32_t pt = find_point(r->model, m);
    if (pt < 0) snprintf(buf, cap, "the model (%s)", kind_name(m->kind));
    else snprintf(buf, cap, "layer '%s' (%s)", r->model->names[pt], kind_name(m->kind));
    return buf;
}

/* A fresh contiguous f32 output of the given shape, from the arena. */
static us_status alloc_out(run_ctx *r, const us_module *m, int32_t ndim, const int32_t *shape,
                           us_tensor *out) {
    int64_t n = 1;
    for (int32_t i = 0; i < ndim; i++) n *= shape[i];
    float *data = us_arena_alloc(&r->model->arena, (size_t)n * sizeof(float));
    if (!data && n > 0) {
        char w[160];
        return us_fail(r->err, US_ERR_OOM, "%s: out of memory for an output of %lld floats",
                       where(r, m, w, sizeof w), (long long)n);
    }
    *out = us_tensor_make(US_F32, data, ndim, shape);
    return US_OK;
}

static us_status need_f32(run_ctx *r, const us_module *m, const us_tensor *in) {
    if (in->dtype != US_F32) {
        char w[160];
        return us_fail(r->err, US_ERR_DTYPE, "%s: expected F32 input, got %s", where(r, m, w, sizeof w),
                       us_dtype_name(in->dtype));
    }
    if (!us_tensor_is_contiguous(in)) {
        char w[160];
        return us_fail(r->err, US_ERR_SHAPE, "%s: input is not contiguous", where(r, m, w, sizeof w));
    }
    return US_OK;
}

/* Checks that the last dim of `in` is `want`. */
static us_status need_last_dim(run_ctx *r, const us_module *m, const us_tensor *in, int32_t want,
                               const char *what) {
    if (in->ndim >= 1 && in->shape[in->ndim - 1] == want) return US_OK;
    char w[160], s[96];
    return us_fail(r->err, US_ERR_SHAPE,
                   "%s: expected input of shape [*, %d] (%s = %d), got shape %s", where(r, m, w, sizeof w),
                   (int)want, what, (int)want, us_shape_str(in, s, sizeof s));
}

static us_status run_linear(run_ctx *r, us_module *m, const us_tensor *in, us_tensor *out) {
    us_status s = need_f32(r, m, in);
    if (s == US_OK) s = need_last_dim(r, m, in, m->in_features, "in_features");
    if (s != US_OK) return s;
    int32_t shape[US_MAX_DIMS];
    memcpy(shape, in->shape, sizeof shape);
    shape[in->ndim - 1] = m->out_features;
    s = alloc_out(r, m, in->ndim, shape, out);
    if (s != US_OK) return s;
    if (!m->packed || m->packed_version != m->version) {
        us_gemm_weights_free(m->packed);
        m->packed = us_gemm_weights_new(m->params[0].data, m->out_features, m->in_features);
        if (!m->packed) {
            char w[160];
            return us_fail(r->err, US_ERR_OOM, "%s: out of memory packing weights", where(r, m, w, sizeof w));
        }
        m->packed_version = m->version;
    }
    int32_t rows = (int32_t)(us_tensor_numel(in) / m->in_features);
    const float *bias = m->n_params > 1 ? m->params[1].data : NULL;
    us_gemm_f32_parallel(r->model->pool, rows, in->data, m->in_features, m->packed, bias, out->data, m->out_features);
    return US_OK;
}

static us_status run_elementwise(run_ctx *r, us_module *m, const us_tensor *in, us_tensor *out) {
    us_status s = need_f32(r, m, in);
    if (s == US_OK) s = alloc_out(r, m, in->ndim, in->shape, out);
    if (s != US_OK) return s;
    int64_t n = us_tensor_numel(in);
    switch (m->kind) {
    case US_MOD_RELU: us_relu_f32(out->data, in->data, n); break;
    case US_MOD_GELU: us_gelu_erf_f32(out->data, in->data, n); break;
    case US_MOD_GELU_TANH: us_gelu_tanh(r->model->pool, out->data, in->data, n); break;
    case US_MOD_TANH: us_tanh_f32(out->data, in->data, n); break;
    case US_MOD_SIGMOID: us_sigmoid_f32(out->data, in->data, n); break;
    default: break;
    }
    return US_OK;
}

static us_status run_softmax(run_ctx *r, us_module *m, const us_tensor *in, us_tensor *out) {
    us_status s = need_f32(r, m, in);
    if (s != US_OK) return s;
    int32_t nd = in->ndim ? in->ndim : 1; /* a scalar behaves as one element on dim 0 or -1 */
    int32_t d = m->dim < 0 ? m->dim + nd : m->dim;
    if (d < 0 || d >= nd) {
        char w[160];
        return us_fail(r->err, US_ERR_RANGE,
                       "%s: dim %d is out of range for an input with %d dimensions (expected %d to %d)",
                       where(r, m, w, sizeof w), (int)m->dim, (int)in->ndim, (int)-nd, (int)nd - 1);
    }
    s = alloc_out(r, m, in->ndim, in->shape, out);
    if (s != US_OK) return s;
    int64_t outer = 1, inner = 1;
    int32_t dim = in->ndim ? in->shape[d] : 1;
    for (int32_t i = 0; i < d; i++) outer *= in->shape[i];
    for (int32_t i = d + 1; i < in->ndim; i++) inner *= in->shape[i];
    us_softmax_f32(out->data, in->data, outer, dim, inner);
    return US_OK;
}

static us_status run_layernorm(run_ctx *r, us_module *m, const us_tensor *in, us_tensor *out) {
    us_status s = need_f32(r, m, in);
    if (s == US_OK) s = need_last_dim(r, m, in, m->normalized_shape, "normalized_shape");
    if (s == US_OK) s = alloc_out(r, m, in->ndim, in->shape, out);
    if (s != US_OK) return s;
    int64_t rows = us_tensor_numel(in) / m->normalized_shape;
    us_layernorm_f32(out->data, in->data, m->affine ? m->params[0].data : NULL,
                     m->affine ? m->params[1].data : NULL, rows, m->normalized_shape, m->eps);
    return US_OK;
}

static us_status run_embedding(run_ctx *r, us_module *m, const us_tensor *in, us_tensor *out) {
    char w[160];
    if (in->dtype != US_I32)
        return us_fail(r->err, US_ERR_DTYPE, "%s: expected integer token ids (I32), got %s",
                       where(r, m, w, sizeof w), us_dtype_name(in->dtype));
    if (in->ndim >= US_MAX_DIMS)
        return us_fail(r->err, US_ERR_SHAPE, "%s: input has too many dimensions (%d)",
                       where(r, m, w, sizeof w), (int)in->ndim);
    int32_t shape[US_MAX_DIMS];
    memcpy(shape, in->shape, sizeof(int32_t) * (size_t)in->ndim);
    shape[in->ndim] = m->dim;
    us_status s = alloc_out(r, m, in->ndim + 1, shape, out);
    if (s != US_OK) return s;
    int64_t n = us_tensor_numel(in);
    int64_t bad = us_embedding_f32(out->data, in->data, n, m->params[0].data, m->num_embeddings, m->dim);
    if (bad >= 0)
        return us_fail(r->err, US_ERR_RANGE, "%s: index %d at position %lld is out of range [0, %d)",
                       where(r, m, w, sizeof w), (int)((const int32_t *)in->data)[bad], (long long)bad,
                       (int)m->num_embeddings);
    return US_OK;
}

static us_status run_sequential(run_ctx *r, us_module *m, const us_tensor *in, us_tensor *out) {
    us_tensor cur = *in;
    for (int32_t i = 0; i < m->n_children; i++) {
        us_tensor next;
        us_status s = run_module(r, m->children[i], &cur, &next);
        if (s != US_OK) return s;
        cur = next;
    }
    *out = cur; /* the last child's output itself, as in PyTorch */
    return US_OK;
}

static us_status compute(run_ctx *r, us_module *m, const us_tensor *in, us_tensor *out) {
    switch (m->kind) {
    case US_MOD_SEQUENTIAL: return run_sequential(r, m, in, out);
    case US_MOD_LINEAR: return run_linear(r, m, in, out);
    case US_MOD_RELU: case US_MOD_GELU: case US_MOD_GELU_TANH: case US_MOD_TANH: case US_MOD_SIGMOID:
        return run_elementwise(r, m, in, out);
    case US_MOD_SOFTMAX: return run_softmax(r, m, in, out);
    case US_MOD_LAYERNORM: return run_layernorm(r, m, in, out);
    case US_MOD_EMBEDDING: return run_embedding(r, m, in, out);
    case US_MOD_DROPOUT: case US_MOD_IDENTITY:
        *out = *in; /* the same tensor, as PyTorch returns it */
        return US_OK;
    default:
        return us_fail(r->err, US_ERR_INVALID_ARG, "unknown module kind %d", (int)m->kind);
    }
}

static us_status run_module(run_ctx *r, us_module *m, const us_tensor *in, us_tensor *out) {
    int32_t pt = find_point(r->model, m);
    us_model *model = r->model;
    int32_t entry = -1;
    if (model->recording) { /* record the call now (pre-order); its output on return */
        if (model->n_tape == model->cap_tape) {
            int32_t cap = model->cap_tape ? model->cap_tape * 2 : 32;
            tape_entry *t = realloc(model->tape, sizeof *t * (size_t)cap);
            if (!t) return us_fail(r->err, US_ERR_OOM, "forward: out of memory recording the calls");
            model->tape = t;
            model->cap_tape = cap;
        }
        entry = model->n_tape++;
        model->tape[entry] = (tape_entry){m, pt, *in, *in};
    }
    /* Ask first: an unwatched point costs one call and nothing else. */
    int watched = pt >= 0 && r->hook && r->hook(r->user, pt, US_HOOK_ASK, NULL, NULL);
    us_status s = compute(r, m, in, out);
    if (s == US_OK && entry >= 0) model->tape[entry].out = *out;
    if (s != US_OK || !watched) return s;
    if (r->hook(r->user, pt, US_HOOK_OBSERVE, in, out) != 0)
        return us_fail(r->err, US_ERR_HOOK, "the hook at layer '%s' stopped the forward",
                       r->model->names[pt]);
    return US_OK;
}

us_status us_model_forward(us_model *model, const us_tensor *input, us_tensor *output, us_hook_fn hook,
                           void *user, us_error *err) {
    if (!model || !input || !output) return us_fail(err, US_ERR_INVALID_ARG, "forward: NULL argument");
    if (input->ndim < 0 || input->ndim > US_MAX_DIMS)
        return us_fail(err, US_ERR_SHAPE, "forward: input has %d dimensions (at most %d)", (int)input->ndim,
                       US_MAX_DIMS);
    for (int32_t i = 0; i < input->ndim; i++)
        if (input->shape[i] < 0)
            return us_fail(err, US_ERR_SHAPE, "forward: input dimension %d is negative", (int)i);
    us_arena_reset(&model->arena);
    run_ctx r = {model, hook, user, err};
    model->recorded = 0;
    model->n_tape = 0;
    us_tensor in_copy = *input;
    if (model->recording) { /* the backward reads the input later: keep our own copy */
        size_t bytes = (size_t)us_tensor_numel(input) * us_dtype_size(input->dtype);
        void *data = us_arena_alloc(&model->arena, bytes ? bytes : 1);
        if (!data) return us_fail(err, US_ERR_OOM, "forward: out of memory copying the input");
        if (bytes) memcpy(data, input->data, bytes);
        in_copy.data = data;
        input = &in_copy;
    }
    us_status s = run_module(&r, model->root, input, output);
    if (s == US_OK && model->recording) {
        model->recorded = 1;
        model->last_input = *input;
    }
    return s;
}

us_status us_model_forward_train(us_model *model, const us_tensor *input, us_tensor *output, us_hook_fn hook,
                                 void *user, us_error *err) {
    if (!model) return us_fail(err, US_ERR_INVALID_ARG, "forward: NULL model");
    model->recording = 1;
    us_status s = us_model_forward(model, input, output, hook, user, err);
    model->recording = 0;
    return s;
}

/* ---------------------------------------------------------------- backward */

/* The gradient buffers of a backward, one per distinct activation buffer
 * (modules that return their input, like Identity, share their input's). */
typedef struct grad_slot {
    const void *data;
    float *grad;
} grad_slot;

typedef struct bwd_ctx {
    us_model *model;
    grad_slot *slots;
    int32_t n_slots, cap_slots;
    us_error *err;
} bwd_ctx;

static float *slot_find(bwd_ctx *b, const void *data) {
    for (int32_t i = b->n_slots - 1; i >= 0; i--)
        if (b->slots[i].data == data) return b->slots[i].grad;
    return NULL;
}

/* The gradient of the activation at `data` (n floats), zeroed on creation. */
static float *slot_get(bwd_ctx *b, const void *data, int64_t n) {
    float *g = slot_find(b, data);
    if (g) return g;
    if (b->n_slots == b->cap_slots) {
        int32_t cap = b->cap_slots ? b->cap_slots * 2 : 32;
        grad_slot *s = realloc(b->slots, sizeof *s * (size_t)cap);
        if (!s) return NULL;
        b->slots = s;
        b->cap_slots = cap;
    }
    g = us_arena_alloc(&b->model->arena, sizeof(float) * (size_t)(n ? n : 1));
    if (!g) return NULL;
    memset(g, 0, sizeof(float) * (size_t)n);
    b->slots[b->n_slots++] = (grad_slot){data, g};
    return g;
}

static float *param_grad(us_module *m, int32_t i) {
    if (!m->grads[i]) m->grads[i] = calloc((size_t)us_tensor_numel(&m->params[i]), sizeof(float));
    return m->grads[i];
}

/* din (zeroed, numel(in)) += the module's backward of gout; parameters'
 * gradients accumulate. Leaf modules only. */
static us_status leaf_backward(bwd_ctx *b, const tape_entry *e, const float *gout, float *din) {
    us_module *m = e->module;
    const us_tensor *in = &e->in, *out = &e->out;
    const int64_t n = us_tensor_numel(in);
    switch (m->kind) {
    case US_MOD_LINEAR: {
        float *gw = param_grad(m, 0), *gb = m->n_params > 1 ? param_grad(m, 1) : NULL;
        if (!gw || (m->n_params > 1 && !gb)) return us_fail(b->err, US_ERR_OOM, "backward: out of memory");
        return us_matmul_backward(din, gw, gb, gout, in->data, m->params[0].data, (int32_t)(n / m->in_features),
                                  m->in_features, m->out_features, US_W_NK);
    }
    case US_MOD_RELU: us_relu_backward(din, in->data, gout, n); return US_OK;
    case US_MOD_GELU: us_gelu_erf_backward(din, in->data, gout, n); return US_OK;
    case US_MOD_GELU_TANH: us_gelu_tanh_backward(din, in->data, gout, n); return US_OK;
    case US_MOD_TANH: us_tanh_backward(din, out->data, gout, n); return US_OK;
    case US_MOD_SIGMOID: us_sigmoid_backward(din, out->data, gout, n); return US_OK;
    case US_MOD_SOFTMAX: {
        int32_t nd = in->ndim ? in->ndim : 1;
        int32_t d = m->dim < 0 ? m->dim + nd : m->dim;
        int64_t outer = 1, inner = 1;
        int32_t dim = in->ndim ? in->shape[d] : 1;
        for (int32_t i = 0; i < d; i++) outer *= in->shape[i];
        for (int32_t i = d + 1; i < in->ndim; i++) inner *= in->shape[i];
        us_softmax_backward(din, out->data, gout, outer, dim, inner);
        return US_OK;
    }
    case US_MOD_LAYERNORM: {
        const int32_t C = m->normalized_shape;
        const int64_t rows = n / C;
        float *tmp = us_arena_alloc(&b->model->arena, sizeof(float) * (size_t)(n + 2 * rows + 1));
        float *gw = m->affine ? param_grad(m, 0) : NULL, *gb = m->affine ? param_grad(m, 1) : NULL;
        if (!tmp || (m->affine && (!gw || !gb))) return us_fail(b->err, US_ERR_OOM, "backward: out of memory");
        float *mean = tmp + n, *rstd = mean + rows;
        const float *w = m->affine ? m->params[0].data : NULL, *bias = m->affine ? m->params[1].data : NULL;
        us_layernorm_forward_stats(tmp, mean, rstd, in->data, w, bias, rows, C, m->eps);
        us_layernorm_backward(din, gw, gb, gout, in->data, w, mean, rstd, rows, C);
        return US_OK;
    }
    case US_MOD_EMBEDDING: {
        float *gw = param_grad(m, 0);
        if (!gw) return us_fail(b->err, US_ERR_OOM, "backward: out of memory");
        us_embedding_backward(gw, in->data, n, gout, m->dim);
        return US_OK;
    }
    default:
        return US_OK;
    }
}

us_status us_model_backward(us_model *model, const float *dout, us_tensor *input_grad, us_hook_fn hook, void *user,
                            us_error *err) {
    if (!model || !dout) return us_fail(err, US_ERR_INVALID_ARG, "backward: NULL argument");
    if (!model->recorded || model->n_tape == 0)
        return us_fail(err, US_ERR_INVALID_ARG, "backward: run a forward with gradients (grad: true) first");
    bwd_ctx b = {model, NULL, 0, 0, err};
    us_status st = US_OK;
    uint8_t *watched = us_arena_alloc(&model->arena, (size_t)model->n_points + 1);
    if (!watched) return us_fail(err, US_ERR_OOM, "backward: out of memory");
    for (int32_t p = 0; p < model->n_points; p++)
        watched[p] = hook && hook(user, p, US_HOOK_GRAD_ASK, NULL, NULL) ? 1 : 0;
    const tape_entry *root = &model->tape[0];
    float *g0 = slot_get(&b, root->out.data, us_tensor_numel(&root->out));
    if (!g0) {
        free(b.slots);
        return us_fail(err, US_ERR_OOM, "backward: out of memory");
    }
    memcpy(g0, dout, sizeof(float) * (size_t)us_tensor_numel(&root->out));

    for (int32_t i = model->n_tape - 1; i >= 0 && st == US_OK; i--) {
        const tape_entry *e = &model->tape[i];
        us_module *m = e->module;
        const int64_t n_in = us_tensor_numel(&e->in), n_out = us_tensor_numel(&e->out);
        float *gout = slot_get(&b, e->out.data, n_out);
        if (!gout) {
            st = us_fail(err, US_ERR_OOM, "backward: out of memory");
            break;
        }
        us_tensor tout = e->out, tin = e->in;
        tout.data = gout;
        tout.dtype = US_F32;
        const int passthrough = m->kind == US_MOD_SEQUENTIAL || m->kind == US_MOD_IDENTITY || m->kind == US_MOD_DROPOUT;
        const int ids_input = e->in.dtype != US_F32;
        float *din = NULL;
        if (passthrough) {
            din = ids_input ? NULL : slot_get(&b, e->in.data, n_in); /* children already added into it */
        } else if (!ids_input) {
            din = us_arena_alloc(&model->arena, sizeof(float) * (size_t)(n_in ? n_in : 1));
            if (!din) {
                st = us_fail(err, US_ERR_OOM, "backward: out of memory");
                break;
            }
            memset(din, 0, sizeof(float) * (size_t)n_in);
        }
        if (!passthrough) st = leaf_backward(&b, e, gout, din);
        if (st != US_OK) break;
        if (din) {
            tin.data = din;
            tin.dtype = US_F32;
        }
        if (e->point >= 0 && watched[e->point] &&
            hook(user, e->point, US_HOOK_GRAD_OBSERVE, din ? &tin : NULL, &tout) != 0) {
            st = us_fail(err, US_ERR_HOOK, "the backward hook at layer '%s' stopped the backward", model->names[e->point]);
            break;
        }
        if (!passthrough && din) { /* flow on into the input's gradient */
            float *gin = slot_get(&b, e->in.data, n_in);
            if (!gin) {
                st = us_fail(err, US_ERR_OOM, "backward: out of memory");
                break;
            }
            for (int64_t k = 0; k < n_in; k++) gin[k] += din[k];
        }
    }
    if (st == US_OK && input_grad) {
        *input_grad = model->last_input;
        input_grad->data = model->last_input.dtype == US_F32 ? slot_find(&b, model->last_input.data) : NULL;
    }
    free(b.slots);
    return st;
}
