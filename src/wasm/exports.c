/* exports.c — the whole boundary between the C core and JavaScript.
 *
 * Everything JS may call is exported here by name (usw_*), and the only thing
 * C calls in JS is one relay import, unseal.hook, keyed by an integer handle
 * that JS maps to the forward in progress. JS reads us_tensor and us_error
 * structs straight from memory, so their layout is pinned by the asserts below
 * and mirrored in web/wasm.js. Compiled only into the WebAssembly build. */
#include <math.h>
#include <stdlib.h>

#include "core/threadpool.h"
#include "kernels/gemm.h"
#include "tokenizer/bpe.h"
#include "train/adamw.h"
#include "unseal.h"

#define USW_EXPORT(name) __attribute__((export_name(#name))) 

_Static_assert(offsetof(us_tensor, dtype) == 0, "layout mirrored in web/wasm.js");
_Static_assert(offsetof(us_tensor, ndim) == 4, "layout mirrored in web/wasm.js");
_Static_assert(offsetof(us_tensor, shape) == 8, "layout mirrored in web/wasm.js");
_Static_assert(offsetof(us_tensor, stride) == 40, "layout mirrored in web/wasm.js");
_Static_assert(offsetof(us_tensor, data) == 72, "layout mirrored in web/wasm.js");
_Static_assert(offsetof(us_tensor, name) == 76, "layout mirrored in web/wasm.js");
_Static_assert(sizeof(us_tensor) == 80, "layout mirrored in web/wasm.js");
_Static_assert(offsetof(us_error, message) == 4, "layout mirrored in web/wasm.js");
_Static_assert(offsetof(us_st_entry, dtype) == 4, "layout mirrored in web/wasm.js");
_Static_assert(offsetof(us_st_entry, ndim) == 8, "layout mirrored in web/wasm.js");
_Static_assert(offsetof(us_st_entry, shape) == 12, "layout mirrored in web/wasm.js");
_Static_assert(offsetof(us_st_entry, begin) == 48, "layout mirrored in web/wasm.js");
_Static_assert(offsetof(us_st_entry, end) == 56, "layout mirrored in web/wasm.js");

/* The relay: C's hook callback, answered in JS (web/hooked_model.js). */
__attribute__((import_module("unseal"), import_name("hook"))) int32_t usw_js_hook(
    int32_t handle, int32_t point, int32_t phase, const us_tensor *in, us_tensor *out);

static int relay(void *user, int32_t point, us_hook_phase phase, const us_tensor *in, us_tensor *out) {
    return usw_js_hook((int32_t)(intptr_t)user, point, (int32_t)phase, in, out);
}

/* ------------------------------------------------------------ memory */
USW_EXPORT(usw_malloc) void *usw_malloc(size_t n) { return malloc(n ? n : 1); }
USW_EXPORT(usw_free) void usw_free(void *p) { free(p); }
USW_EXPORT(usw_error_new) us_error *usw_error_new(void) { return calloc(1, sizeof(us_error)); }
USW_EXPORT(usw_tensor_new) us_tensor *usw_tensor_new(void) { return calloc(1, sizeof(us_tensor)); }
/* Fills *t as a contiguous tensor over data (shape read from t->shape). */
USW_EXPORT(usw_tensor_set) void usw_tensor_set(us_tensor *t, int32_t dtype, int32_t ndim, void *data) {
    int32_t shape[US_MAX_DIMS];
    for (int32_t i = 0; i < ndim && i < US_MAX_DIMS; i++) shape[i] = t->shape[i];
    *t = us_tensor_make((us_dtype)dtype, data, ndim, shape);
}
USW_EXPORT(usw_kernel_name) const char *usw_kernel_name(void) { return us_gemm_kernel_name(); }

/* ------------------------------------------------------------ threads
 * The compute pool (src/core/threadpool.h), driven by web/threads.js. In the
 * threaded build (web/unseal-mt.wasm) each worker is an instance of this
 * module over the same shared memory: it sets its own stack with stackRestore
 * (exported by Emscripten) to a block the main thread allocated, then calls
 * usw_pool_worker_main, which returns only when the worker is removed. */
USW_EXPORT(usw_pool_supported) int32_t usw_pool_supported(void) { return us_threadpool_supported(); }
USW_EXPORT(usw_pool_new) us_threadpool *usw_pool_new(int32_t max_workers) { return us_threadpool_new(max_workers); }
USW_EXPORT(usw_pool_threads) int32_t usw_pool_threads(const us_threadpool *p) { return us_threadpool_threads(p); }
USW_EXPORT(usw_pool_add_worker) int32_t usw_pool_add_worker(us_threadpool *p) { return us_threadpool_add_worker(p); }
USW_EXPORT(usw_pool_remove_workers) void usw_pool_remove_workers(us_threadpool *p, int32_t keep) {
    us_threadpool_remove_workers(p, keep);
}
USW_EXPORT(usw_pool_worker_main) void usw_pool_worker_main(us_threadpool *p, int32_t id) {
    us_threadpool_worker_main(p, id);
}
USW_EXPORT(usw_model_set_pool) void usw_model_set_pool(us_model *m, us_threadpool *p) { us_model_set_threadpool(m, p); }
USW_EXPORT(usw_gpt2_set_pool) void usw_gpt2_set_pool(us_gpt2 *m, us_threadpool *p) { us_gpt2_set_threadpool(m, p); }

/* ------------------------------------------------------------ modules */
USW_EXPORT(usw_sequential_new) us_module *usw_sequential_new(void) { return us_sequential_new(); }
USW_EXPORT(usw_linear_new) us_module *usw_linear_new(int32_t in, int32_t out, int32_t bias) {
    return us_linear_new(in, out, bias);
}
USW_EXPORT(usw_activation_new) us_module *usw_activation_new(int32_t kind) {
    return us_activation_new((us_module_kind)kind);
}
USW_EXPORT(usw_softmax_new) us_module *usw_softmax_new(int32_t dim) { return us_softmax_new(dim); }
USW_EXPORT(usw_layernorm_new) us_module *usw_layernorm_new(int32_t n, float eps, int32_t affine) {
    return us_layernorm_new(n, eps, affine);
}
USW_EXPORT(usw_embedding_new) us_module *usw_embedding_new(int32_t n, int32_t d) { return us_embedding_new(n, d); }
USW_EXPORT(usw_dropout_set_p) void usw_dropout_set_p(us_module *m, float p) { us_dropout_set_p(m, p); }
USW_EXPORT(usw_module_release) void usw_module_release(us_module *m) { us_module_release(m); }
USW_EXPORT(usw_sequential_append) int32_t usw_sequential_append(us_module *s, us_module *c, us_error *e) {
    return us_sequential_append(s, c, e);
}
USW_EXPORT(usw_module_num_params) int32_t usw_module_num_params(us_module *m) { return us_module_num_params(m); }
USW_EXPORT(usw_module_param) us_tensor *usw_module_param(us_module *m, int32_t i) { return us_module_param(m, i); }
USW_EXPORT(usw_module_params_changed) void usw_module_params_changed(us_module *m) { us_module_params_changed(m); }

/* ------------------------------------------------------------ models */
USW_EXPORT(usw_model_new) us_model *usw_model_new(us_module *root, us_error *e) { return us_model_new(root, e); }
USW_EXPORT(usw_model_free) void usw_model_free(us_model *m) { us_model_free(m); }
USW_EXPORT(usw_model_num_points) int32_t usw_model_num_points(us_model *m) { return us_model_num_points(m); }
USW_EXPORT(usw_model_point_name) const char *usw_model_point_name(us_model *m, int32_t i) {
    return us_model_point_name(m, i);
}
USW_EXPORT(usw_model_point_module) us_module *usw_model_point_module(us_model *m, int32_t i) {
    return us_model_point_module(m, i);
}
/* handle: JS's key for this forward's hooks; 0 runs without hooks at all. */
USW_EXPORT(usw_model_forward) int32_t usw_model_forward(us_model *m, const us_tensor *in, us_tensor *out,
                                                        int32_t handle, us_error *e) {
    return us_model_forward(m, in, out, handle ? relay : NULL, (void *)(intptr_t)handle, e);
}

/* ------------------------------------------------------------ safetensors */
USW_EXPORT(usw_st_parse) us_safetensors *usw_st_parse(const uint8_t *buf, size_t len, us_error *e) {
    us_safetensors *st = calloc(1, sizeof *st);
    if (!st) {
        us_fail(e, US_ERR_OOM, "safetensors: out of memory");
        return NULL;
    }
    if (us_safetensors_parse(buf, len, st, e) != US_OK) {
        free(st);
        return NULL;
    }
    return st;
}
/* From the header alone (avail bytes of a file_len-byte file); data stays NULL. */
USW_EXPORT(usw_st_parse_header) us_safetensors *usw_st_parse_header(const uint8_t *buf, size_t avail, double file_len,
                                                                    us_error *e) {
    us_safetensors *st = calloc(1, sizeof *st);
    if (!st) {
        us_fail(e, US_ERR_OOM, "safetensors: out of memory");
        return NULL;
    }
    if (us_safetensors_parse_header(buf, avail, (uint64_t)file_len, st, e) != US_OK) {
        free(st);
        return NULL;
    }
    return st;
}
/* Widens n values of dtype dt at src into dst. */
USW_EXPORT(usw_convert_to_f32) int32_t usw_convert_to_f32(float *dst, const void *src, int32_t dt, size_t n) {
    return us_convert_to_f32(dst, src, (us_dtype)dt, n);
}
USW_EXPORT(usw_st_free) void usw_st_free(us_safetensors *st) {
    if (!st) return;
    us_safetensors_free(st);
    free(st);
}
USW_EXPORT(usw_st_count) int32_t usw_st_count(const us_safetensors *st) { return st->n_entries; }
USW_EXPORT(usw_st_entry) const us_st_entry *usw_st_entry(const us_safetensors *st, int32_t i) {
    return (i >= 0 && i < st->n_entries) ? &st->entries[i] : NULL;
}
USW_EXPORT(usw_st_metadata) const char *usw_st_metadata(const us_safetensors *st) { return st->metadata_json; }
USW_EXPORT(usw_st_data_offset) uint32_t usw_st_data_offset(const us_safetensors *st) {
    return (uint32_t)(8 + st->header_len);
}
/* Widens entry i into dst (numel floats). */
USW_EXPORT(usw_st_read_f32) int32_t usw_st_read_f32(const us_safetensors *st, int32_t i, float *dst) {
    const us_st_entry *e = &st->entries[i];
    size_t n = (size_t)(e->end - e->begin) / us_dtype_size(e->dtype);
    return us_convert_to_f32(dst, st->data + e->begin, e->dtype, n);
}

/* ------------------------------------------------------------ GPT-2 */
/* The config arrives as 6 ints + eps, in us_gpt2_config's order. */
USW_EXPORT(usw_gpt2_new) us_gpt2 *usw_gpt2_new(int32_t vocab, int32_t n_pos, int32_t n_embd, int32_t n_layer,
                                               int32_t n_head, int32_t n_inner, float eps, us_error *e) {
    us_gpt2_config cfg = {vocab, n_pos, n_embd, n_layer, n_head, n_inner, eps};
    return us_gpt2_new(&cfg, e);
}
/* The same with the matmul weights only packed, in dtype (0 F32, 1 F16). */
USW_EXPORT(usw_gpt2_new_packed) us_gpt2 *usw_gpt2_new_packed(int32_t vocab, int32_t n_pos, int32_t n_embd,
                                                             int32_t n_layer, int32_t n_head, int32_t n_inner,
                                                             float eps, int32_t dtype, us_error *e) {
    us_gpt2_config cfg = {vocab, n_pos, n_embd, n_layer, n_head, n_inner, eps};
    return us_gpt2_new_packed(&cfg, (us_dtype)dtype, e);
}
USW_EXPORT(usw_gpt2_free) void usw_gpt2_free(us_gpt2 *m) { us_gpt2_free(m); }
/* Parameter element ranges (a parameter has < 2^31 elements: us_gpt2_new checks). */
USW_EXPORT(usw_gpt2_param_read) int32_t usw_gpt2_param_read(us_gpt2 *m, int32_t i, int32_t first, int32_t n, float *dst,
                                                            us_error *e) {
    return us_gpt2_param_read(m, i, first, n, dst, e);
}
USW_EXPORT(usw_gpt2_param_write) int32_t usw_gpt2_param_write(us_gpt2 *m, int32_t i, int32_t first, int32_t n,
                                                              const void *src, int32_t dtype, us_error *e) {
    return us_gpt2_param_write(m, i, first, n, src, (us_dtype)dtype, e);
}
USW_EXPORT(usw_gpt2_set_plain_weights) int32_t usw_gpt2_set_plain_weights(us_gpt2 *m, int32_t plain, us_error *e) {
    return us_gpt2_set_plain_weights(m, plain, e);
}
USW_EXPORT(usw_gpt2_has_plain_weights) int32_t usw_gpt2_has_plain_weights(us_gpt2 *m) {
    return us_gpt2_has_plain_weights(m);
}
USW_EXPORT(usw_gpt2_num_params) int32_t usw_gpt2_num_params(us_gpt2 *m) { return us_gpt2_num_params(m); }
USW_EXPORT(usw_gpt2_param) us_tensor *usw_gpt2_param(us_gpt2 *m, int32_t i) { return us_gpt2_param(m, i); }
USW_EXPORT(usw_gpt2_params_changed) void usw_gpt2_params_changed(us_gpt2 *m) { us_gpt2_params_changed(m); }
USW_EXPORT(usw_gpt2_set_weight_dtype) int32_t usw_gpt2_set_weight_dtype(us_gpt2 *m, int32_t dt, us_error *e) {
    return us_gpt2_set_weight_dtype(m, (us_dtype)dt, e);
}
USW_EXPORT(usw_gpt2_num_points) int32_t usw_gpt2_num_points(us_gpt2 *m) { return us_gpt2_num_points(m); }
USW_EXPORT(usw_gpt2_point_name) const char *usw_gpt2_point_name(us_gpt2 *m, int32_t p) {
    return us_gpt2_point_name(m, p);
}
USW_EXPORT(usw_gpt2_point_fires) int32_t usw_gpt2_point_fires(us_gpt2 *m, int32_t p) { return us_gpt2_point_fires(m, p); }
USW_EXPORT(usw_gpt2_cache_new) us_gpt2_cache *usw_gpt2_cache_new(us_gpt2 *m, int32_t batch, int32_t max_len, us_error *e) {
    return us_gpt2_cache_new(m, batch, max_len, e);
}
USW_EXPORT(usw_gpt2_cache_free) void usw_gpt2_cache_free(us_gpt2_cache *c) { us_gpt2_cache_free(c); }
USW_EXPORT(usw_gpt2_cache_len) int32_t usw_gpt2_cache_len(us_gpt2_cache *c) { return us_gpt2_cache_len(c); }
USW_EXPORT(usw_gpt2_cache_reset) void usw_gpt2_cache_reset(us_gpt2_cache *c) { us_gpt2_cache_reset(c); }
/* handle: as usw_model_forward. cache may be 0. */
USW_EXPORT(usw_gpt2_forward) int32_t usw_gpt2_forward(us_gpt2 *m, const us_tensor *ids, us_gpt2_cache *cache,
                                                      us_tensor *out, int32_t handle, us_error *e) {
    return us_gpt2_forward(m, ids, cache, out, handle ? relay : NULL, (void *)(intptr_t)handle, e);
}

USW_EXPORT(usw_gpt2_unembed) int32_t usw_gpt2_unembed(us_gpt2 *m, const float *x, int32_t n, float *out, int32_t ln_f,
                                                      us_error *e) {
    return us_gpt2_unembed(m, x, n, out, ln_f, e);
}

/* ------------------------------------------------------------ tokenizer */
USW_EXPORT(usw_bpe_from_vocab_merges) us_bpe *usw_bpe_from_vocab_merges(const char *v, size_t vl, const char *m,
                                                                        size_t ml, us_error *e) {
    return us_bpe_from_vocab_merges(v, vl, m, ml, e);
}
USW_EXPORT(usw_bpe_from_tokenizer_json) us_bpe *usw_bpe_from_tokenizer_json(const char *j, size_t l, us_error *e) {
    return us_bpe_from_tokenizer_json(j, l, e);
}
USW_EXPORT(usw_bpe_free) void usw_bpe_free(us_bpe *t) { us_bpe_free(t); }
USW_EXPORT(usw_bpe_vocab_size) int32_t usw_bpe_vocab_size(us_bpe *t) { return us_bpe_vocab_size(t); }
/* Results go to out[0] (owned pointer, free with usw_free) and out[1] (count). */
USW_EXPORT(usw_bpe_encode) int32_t usw_bpe_encode(us_bpe *t, const uint8_t *text, size_t len, int32_t **ids,
                                                  size_t *n, us_error *e) {
    return us_bpe_encode(t, text, len, ids, n, e);
}
USW_EXPORT(usw_bpe_decode) int32_t usw_bpe_decode(us_bpe *t, const int32_t *ids, size_t n, uint8_t **out,
                                                  size_t *len, us_error *e) {
    return us_bpe_decode(t, ids, n, out, len, e);
}

/* ------------------------------------------------------------ index strings */
USW_EXPORT(usw_index_parse) us_index *usw_index_parse(const char *s, size_t len, us_error *e) {
    us_index *idx = malloc(sizeof *idx);
    if (!idx) {
        us_fail(e, US_ERR_OOM, "index string: out of memory");
        return NULL;
    }
    if (us_index_parse(s, len, idx, e) != US_OK) {
        free(idx);
        return NULL;
    }
    return idx;
}
USW_EXPORT(usw_index_free) void usw_index_free(us_index *idx) {
    us_index_free(idx);
    free(idx);
}
USW_EXPORT(usw_index_count) int32_t usw_index_count(const us_index *idx) { return idx->n_items; }
/* Field f of item i: 0 kind, 1 has_start, 2 has_stop, 3 start, 4 stop, 5 step, 6 list_len. */
USW_EXPORT(usw_index_field) double usw_index_field(const us_index *idx, int32_t i, int32_t f) {
    const us_index_item *it = &idx->items[i];
    switch (f) {
    case 0: return it->kind;
    case 1: return it->has_start;
    case 2: return it->has_stop;
    case 3: return (double)it->start;
    case 4: return (double)it->stop;
    case 5: return (double)it->step;
    case 6: return it->list_len;
    default: return 0;
    }
}
USW_EXPORT(usw_index_list_at) double usw_index_list_at(const us_index *idx, int32_t i, int32_t j) {
    return (double)idx->list[idx->items[i].list_off + j];
}

/* ------------------------------------------------------------ training */
USW_EXPORT(usw_gpt2_grad_new) us_gpt2_grad *usw_gpt2_grad_new(us_gpt2 *m, us_error *e) { return us_gpt2_grad_new(m, e); }
USW_EXPORT(usw_gpt2_grad_free) void usw_gpt2_grad_free(us_gpt2_grad *g) { us_gpt2_grad_free(g); }
USW_EXPORT(usw_gpt2_grad_zero) void usw_gpt2_grad_zero(us_gpt2_grad *g) { us_gpt2_grad_zero(g); }
USW_EXPORT(usw_gpt2_grad_param) float *usw_gpt2_grad_param(us_gpt2_grad *g, us_gpt2 *m, int32_t i) {
    return us_gpt2_grad_param(g, m, i);
}
USW_EXPORT(usw_gpt2_forward_train) int32_t usw_gpt2_forward_train(us_gpt2 *m, const us_tensor *ids, us_gpt2_grad *g,
                                                                  us_tensor *out, int32_t handle, us_error *e) {
    return us_gpt2_forward_train(m, ids, g, out, handle ? relay : NULL, (void *)(intptr_t)handle, e);
}
/* out2: float loss at [0], int32 n_scored at [1]. */
USW_EXPORT(usw_gpt2_loss) int32_t usw_gpt2_loss(us_gpt2_grad *g, us_gpt2 *m, const int32_t *labels, float *out2,
                                                float *dlogits, us_error *e) {
    return us_gpt2_loss(g, m, labels, &out2[0], (int32_t *)&out2[1], dlogits, e);
}
USW_EXPORT(usw_gpt2_backward) int32_t usw_gpt2_backward(us_gpt2 *m, us_gpt2_grad *g, const float *dlogits,
                                                        int32_t handle, us_error *e) {
    return us_gpt2_backward(m, g, dlogits, handle ? relay : NULL, (void *)(intptr_t)handle, e);
}
/* One optimizer step over every parameter: clip the global gradient norm to
 * max_norm (if > 0), then AdamW. Returns the norm before clipping, or NaN
 * (nothing done) when the model has no plain weights (web/train.js makes
 * them first). m_state and v_state hold n floats each (the caller allocates
 * them zeroed). */
USW_EXPORT(usw_gpt2_adamw_step) double usw_gpt2_adamw_step(us_gpt2 *m, us_gpt2_grad *g, float *m_state, float *v_state,
                                                          float lr, float beta1, float beta2, float eps,
                                                          float weight_decay, float max_norm, int32_t t) {
    size_t n;
    float *p = us_gpt2_params_all(m, &n);
    if (!p) return NAN;
    float *grads = us_gpt2_grad_all(g, NULL);
    double norm = us_grad_global_norm(grads, n);
    if (max_norm > 0) us_clip_grad_norm(grads, n, max_norm);
    us_adamw_step(p, grads, m_state, v_state, n, lr, beta1, beta2, eps, weight_decay, t);
    us_gpt2_params_changed(m);
    return norm;
}
USW_EXPORT(usw_gpt2_num_param_floats) int32_t usw_gpt2_num_param_floats(us_gpt2 *m) {
    size_t n;
    us_gpt2_params_all(m, &n);
    return (int32_t)n;
}
USW_EXPORT(usw_lr_cosine_warmup) float usw_lr_cosine_warmup(int32_t step, int32_t warmup, int32_t total, float lr_max,
                                                            float lr_min) {
    return us_lr_cosine_warmup(step, warmup, total, lr_max, lr_min);
}

/* ------------------------------------------------------------ module-model gradients */
USW_EXPORT(usw_model_forward_train) int32_t usw_model_forward_train(us_model *m, const us_tensor *in, us_tensor *out,
                                                                    int32_t handle, us_error *e) {
    return us_model_forward_train(m, in, out, handle ? relay : NULL, (void *)(intptr_t)handle, e);
}
USW_EXPORT(usw_model_backward) int32_t usw_model_backward(us_model *m, const float *dout, us_tensor *input_grad,
                                                          int32_t handle, us_error *e) {
    return us_model_backward(m, dout, input_grad, handle ? relay : NULL, (void *)(intptr_t)handle, e);
}
USW_EXPORT(usw_module_param_grad) float *usw_module_param_grad(us_module *m, int32_t i) { return us_module_param_grad(m, i); }
USW_EXPORT(usw_module_zero_grad) void usw_module_zero_grad(us_module *m) { us_module_zero_grad(m); }

/* ------------------------------------------------------------ model folder files */
_Static_assert(offsetof(us_gpt2_config, n_inner) == 20, "layout read by web/gpt2.js");
_Static_assert(offsetof(us_gpt2_config, layer_norm_epsilon) == 24, "layout read by web/gpt2.js");
_Static_assert(sizeof(us_gpt2_config) == 28, "layout read by web/gpt2.js");
/* config.json into a caller's 28-byte buffer: vocab_size, n_positions, n_embd,
 * n_layer, n_head, n_inner (int32; n_inner 0 for null) and layer_norm_epsilon
 * (float32), as usw_gpt2_new takes them. */
USW_EXPORT(usw_gpt2_config_parse) int32_t usw_gpt2_config_parse(const char *json, size_t len, us_gpt2_config *out,
                                                                us_error *e) {
    return us_gpt2_config_parse(json, len, out, e);
}
/* model.safetensors.index.json; the distinct shard files, in order of first
 * appearance, are usw_shard_index_file(idx, 0 .. count - 1). */
USW_EXPORT(usw_shard_index_parse) us_shard_index *usw_shard_index_parse(const char *json, size_t len, us_error *e) {
    us_shard_index *idx = malloc(sizeof *idx);
    if (!idx) {
        us_fail(e, US_ERR_OOM, "model.safetensors.index.json: out of memory");
        return NULL;
    }
    if (us_shard_index_parse(json, len, idx, e) != US_OK) {
        free(idx);
        return NULL;
    }
    return idx;
}
USW_EXPORT(usw_shard_index_count) int32_t usw_shard_index_count(const us_shard_index *idx) { return idx->n_files; }
USW_EXPORT(usw_shard_index_file) const char *usw_shard_index_file(const us_shard_index *idx, int32_t i) {
    return (i >= 0 && i < idx->n_files) ? idx->files[i] : NULL;
}
USW_EXPORT(usw_shard_index_free) void usw_shard_index_free(us_shard_index *idx) {
    us_shard_index_free(idx);
    free(idx);
}
