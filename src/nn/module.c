/* module.c — constructing, configuring and freeing modules (the tree). Running
 * them lives in model.c. */
#include <stdlib.h>
#include <string.h>

#include "nn/module_internal.h"

static us_module *module_alloc(us_module_kind kind) {
    us_module *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->kind = kind;
    m->refcount = 1;
    m->version = 1;
    return m;
}

/* Adds a zeroed f32 parameter of the given shape; returns 0 on OOM. */
static int add_param(us_module *m, const char *name, int32_t ndim, const int32_t *shape) {
    int64_t n = 1;
    for (int32_t i = 0; i < ndim; i++) n *= shape[i];
    float *data = calloc((size_t)n, sizeof(float));
    if (!data) return 0;
    us_tensor *t = &m->params[m->n_params++];
    *t = us_tensor_make(US_F32, data, ndim, shape);
    t->name = name;
    return 1;
}

static us_module *fail_free(us_module *m) {
    us_module_release(m);
    return NULL;
}

us_module *us_sequential_new(void) { return module_alloc(US_MOD_SEQUENTIAL); }

us_module *us_linear_new(int32_t in_features, int32_t out_features, int bias) {
    if (in_features <= 0 || out_features <= 0) return NULL;
    if ((int64_t)in_features * out_features > INT32_MAX) return NULL;
    us_module *m = module_alloc(US_MOD_LINEAR);
    if (!m) return NULL;
    m->in_features = in_features;
    m->out_features = out_features;
    m->affine = bias ? 1 : 0;
    if (!add_param(m, "weight", 2, (int32_t[]){out_features, in_features})) return fail_free(m);
    if (bias && !add_param(m, "bias", 1, (int32_t[]){out_features})) return fail_free(m);
    return m;
}

us_module *us_activation_new(us_module_kind kind) {
    switch (kind) {
    case US_MOD_RELU: case US_MOD_GELU: case US_MOD_GELU_TANH: case US_MOD_TANH:
    case US_MOD_SIGMOID: case US_MOD_DROPOUT: case US_MOD_IDENTITY:
        return module_alloc(kind);
    default:
        return NULL;
    }
}

us_module *us_softmax_new(int32_t dim) {
    us_module *m = module_alloc(US_MOD_SOFTMAX);
    if (m) m->dim = dim;
    return m;
}

us_module *us_layernorm_new(int32_t normalized_shape, float eps, int elementwise_affine) {
    if (normalized_shape <= 0 || !(eps >= 0.0f)) return NULL;
    us_module *m = module_alloc(US_MOD_LAYERNORM);
    if (!m) return NULL;
    m->normalized_shape = normalized_shape;
    m->eps = eps;
    m->affine = elementwise_affine ? 1 : 0;
    if (m->affine) {
        if (!add_param(m, "weight", 1, &normalized_shape)) return fail_free(m);
        if (!add_param(m, "bias", 1, &normalized_shape)) return fail_free(m);
        float *w = m->params[0].data;
        for (int32_t i = 0; i < normalized_shape; i++) w[i] = 1.0f;
    }
    return m;
}

us_module *us_embedding_new(int32_t num_embeddings, int32_t embedding_dim) {
    if (num_embeddings <= 0 || embedding_dim <= 0) return NULL;
    if ((int64_t)num_embeddings * embedding_dim > INT32_MAX) return NULL;
    us_module *m = module_alloc(US_MOD_EMBEDDING);
    if (!m) return NULL;
    m->num_embeddings = num_embeddings;
    m->dim = embedding_dim;
    if (!add_param(m, "weight", 2, (int32_t[]){num_embeddings, embedding_dim})) return fail_free(m);
    return m;
}

void us_dropout_set_p(us_module *m, float p) {
    if (m && m->kind == US_MOD_DROPOUT) m->p = p;
}

void us_module_retain(us_module *m) {
    if (m) m->refcount++;
}

void us_module_release(us_module *m) {
    if (!m || --m->refcount > 0) return;
    for (int32_t i = 0; i < m->n_children; i++) us_module_release(m->children[i]);
    free(m->children);
    for (int32_t i = 0; i < m->n_params; i++) {
        free(m->params[i].data);
        free(m->grads[i]);
    }
    us_gemm_weights_free(m->packed);
    free(m);
}

/* 1 if `target` is `m` or a descendant of it. */
static int reaches(const us_module *m, const us_module *target) {
    if (m == target) return 1;
    for (int32_t i = 0; i < m->n_children; i++)
        if (reaches(m->children[i], target)) return 1;
    return 0;
}

us_status us_sequential_append(us_module *seq, us_module *child, us_error *err) {
    if (!seq || !child) return us_fail(err, US_ERR_INVALID_ARG, "Sequential append: NULL module");
    if (seq->kind != US_MOD_SEQUENTIAL)
        return us_fail(err, US_ERR_INVALID_ARG, "append: the parent is not a Sequential");
    if (reaches(child, seq))
        return us_fail(err, US_ERR_INVALID_ARG, "append: a Sequential may not contain itself");
    if (seq->n_children == seq->cap_children) {
        int32_t cap = seq->cap_children ? seq->cap_children * 2 : 4;
        us_module **c = realloc(seq->children, sizeof *c * (size_t)cap);
        if (!c) return us_fail(err, US_ERR_OOM, "append: out of memory");
        seq->children = c;
        seq->cap_children = cap;
    }
    us_module_retain(child);
    seq->children[seq->n_children++] = child;
    return US_OK;
}

us_module_kind us_module_get_kind(const us_module *m) { return m->kind; }
int32_t us_module_num_children(const us_module *m) { return m->n_children; }

us_module *us_module_child(const us_module *m, int32_t i) {
    return (i >= 0 && i < m->n_children) ? m->children[i] : NULL;
}

int32_t us_module_int(const us_module *m, const char *key) {
    switch (m->kind) {
    case US_MOD_LINEAR:
        if (!strcmp(key, "in_features")) return m->in_features;
        if (!strcmp(key, "out_features")) return m->out_features;
        if (!strcmp(key, "has_bias")) return m->affine;
        break;
    case US_MOD_SOFTMAX:
        if (!strcmp(key, "dim")) return m->dim;
        break;
    case US_MOD_LAYERNORM:
        if (!strcmp(key, "normalized_shape")) return m->normalized_shape;
        if (!strcmp(key, "elementwise_affine")) return m->affine;
        break;
    case US_MOD_EMBEDDING:
        if (!strcmp(key, "num_embeddings")) return m->num_embeddings;
        if (!strcmp(key, "embedding_dim")) return m->dim;
        break;
    default:
        break;
    }
    return 0;
}

float us_module_float(const us_module *m, const char *key) {
    if (!strcmp(key, "eps")) return m->eps;
    if (!strcmp(key, "p")) return m->p;
    return 0.0f;
}

int32_t us_module_num_params(const us_module *m) { return m->n_params; }

us_tensor *us_module_param(us_module *m, int32_t i) {
    return (i >= 0 && i < m->n_params) ? &m->params[i] : NULL;
}

void us_module_params_changed(us_module *m) { m->version++; }

float *us_module_param_grad(us_module *m, int32_t i) {
    return (i >= 0 && i < m->n_params) ? m->grads[i] : NULL;
}

void us_module_zero_grad(us_module *m) {
    for (int32_t i = 0; i < m->n_params; i++)
        if (m->grads[i]) memset(m->grads[i], 0, sizeof(float) * (size_t)us_tensor_numel(&m->params[i]));
    for (int32_t i = 0; i < m->n_children; i++) us_module_zero_grad(m->children[i]);
}
