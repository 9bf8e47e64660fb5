/* unseal.h — the public C API of unseal-wasm.
 *
 * unseal-wasm runs small neural networks (MLPs now, GPT-2 family next) with
 * *hooks*: every module's input and output is a named point that a callback
 * may watch, read and edit while the forward runs. The same C compiles to
 * native code (for tests) and to WebAssembly with SIMD128 (for the npm package).
 *
 * A tour, in the order a program uses it:
 *
 *     us_error err = {0};
 *     // Build Sequential(Linear(8, 64), ReLU()). Constructors return a module
 *     // with one reference, owned by the caller.
 *     us_module *seq = us_sequential_new();
 *     us_module *lin = us_linear_new(8, 64, 1);
 *     us_module *relu = us_activation_new(US_MOD_RELU);
 *     us_sequential_append(seq, lin);   // seq takes its own reference
 *     us_sequential_append(seq, relu);
 *     us_module_release(lin);           // drop ours; seq keeps them alive
 *     us_module_release(relu);
 *
 *     // A model names every module in pre-order ("0", "1", "2->0", ...).
 *     us_model *model = us_model_new(seq, &err);
 *     us_module_release(seq);
 *
 *     float x[8] = {0};
 *     us_tensor in = us_tensor_f32(x, 2, (int32_t[]){1, 8});
 *     us_tensor out;   // a view into the model's arena, valid until the next forward
 *     if (us_model_forward(model, &in, &out, my_hook, my_ctx, &err) != US_OK)
 *         fprintf(stderr, "%s\n", err.message);
 *     us_model_free(model);
 *
 * Conventions, stated once:
 *   - Row-major everywhere. Shapes and strides are counted in elements.
 *   - Every fallible function returns a us_status and, when `err` is not NULL,
 *     writes a message naming what was wrong (tensor, layer, shape, offset).
 *   - Nothing here prints, exits or keeps global state: all mutable state lives
 *     in objects passed explicitly.
 *   - Ownership is stated on every function: "borrows" means the caller keeps
 *     ownership and the pointer must outlive the call; "returns owned" means
 *     the caller must free/release it.
 */
#ifndef UNSEAL_H
#define UNSEAL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- status */

typedef enum us_status {
    US_OK = 0,
    US_ERR_INVALID_ARG = 1, /* a caller passed something meaningless (NULL, negative size) */
    US_ERR_OOM = 2,         /* an allocation failed */
    US_ERR_SHAPE = 3,       /* a tensor's shape does not fit the operation */
    US_ERR_DTYPE = 4,       /* an unsupported or mismatched dtype */
    US_ERR_FORMAT = 5,      /* a malformed file (safetensors header, offsets, JSON) */
    US_ERR_NOT_FOUND = 6,   /* a named tensor, parameter or point does not exist */
    US_ERR_RANGE = 7,       /* an index (token id, dim) outside its range */
    US_ERR_HOOK = 8         /* a hook callback asked to stop the forward */
} us_status;

/* A status plus a human-readable message. Zero-initialise before use. */
typedef struct us_error {
    us_status code;
    char message[512];
} us_error;

/* "US_ERR_SHAPE" etc.; static storage, never NULL. */
const char *us_status_name(us_status s);

/* Records `code` and a printf-style message in `err` (if not NULL) and returns
 * `code`, so that callers can write `return us_fail(err, US_ERR_SHAPE, ...)`. */
us_status us_fail(us_error *err, us_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* ---------------------------------------------------------------- tensors */

typedef enum us_dtype {
    US_F32 = 0,
    US_F16 = 1,
    US_BF16 = 2,
    US_I32 = 3,
    US_I64 = 4,
    US_DTYPE_COUNT
} us_dtype;

#define US_MAX_DIMS 8

/* The one tensor descriptor. It never owns `data` or `name`: whoever created
 * the tensor owns both and says so. wasm32 bounds every tensor to < 2^31
 * elements, so shape and stride are int32. */
typedef struct us_tensor {
    us_dtype dtype;
    int32_t ndim;
    int32_t shape[US_MAX_DIMS];
    int32_t stride[US_MAX_DIMS]; /* elements, not bytes */
    void *data;
    const char *name; /* may be NULL */
} us_tensor;

/* Bytes per element of `dt` (2 for F16/BF16), 0 for an unknown dtype. */
size_t us_dtype_size(us_dtype dt);
/* "F32", "F16", "BF16", "I32", "I64" (safetensors spelling); "?" if unknown. */
const char *us_dtype_name(us_dtype dt);

/* A contiguous tensor over `data` (borrowed). `shape` has `ndim` entries,
 * copied. ndim must be 0..US_MAX_DIMS. */
us_tensor us_tensor_make(us_dtype dt, void *data, int32_t ndim, const int32_t *shape);
static inline us_tensor us_tensor_f32(float *data, int32_t ndim, const int32_t *shape) {
    return us_tensor_make(US_F32, data, ndim, shape);
}
/* Number of elements (product of the shape; 1 for a scalar). */
int64_t us_tensor_numel(const us_tensor *t);
/* 1 if the strides are the row-major strides of the shape. */
int us_tensor_is_contiguous(const us_tensor *t);
/* Writes "[2, 3, 4]" into buf (always NUL-terminated). Returns buf. */
char *us_shape_str(const us_tensor *t, char *buf, size_t cap);

/* Exact conversions of storage formats to f32 (compute is always f32), and
 * round-to-nearest-even the other way. */
float us_f16_to_f32(uint16_t h);
float us_bf16_to_f32(uint16_t h);
uint16_t us_f32_to_f16(float f);
uint16_t us_f32_to_bf16(float f);
/* Widens n values of dtype `src_dt` at `src` (possibly unaligned bytes, little
 * endian) into `dst`. Only F32, F16 and BF16 sources are accepted. */
us_status us_convert_to_f32(float *dst, const void *src, us_dtype src_dt, size_t n);

/* ---------------------------------------------------------------- modules */

typedef enum us_module_kind {
    US_MOD_SEQUENTIAL = 0,
    US_MOD_LINEAR = 1,
    US_MOD_RELU = 2,
    US_MOD_GELU = 3,      /* exact (erf) form */
    US_MOD_GELU_TANH = 4, /* GELU(approximate='tanh') */
    US_MOD_TANH = 5,
    US_MOD_SIGMOID = 6,
    US_MOD_SOFTMAX = 7,
    US_MOD_LAYERNORM = 8,
    US_MOD_EMBEDDING = 9,
    US_MOD_DROPOUT = 10, /* identity at inference */
    US_MOD_IDENTITY = 11,
    US_MOD_KIND_COUNT
} us_module_kind;

/* A reference-counted module. Parameters are f32 tensors owned by the module
 * (names "weight", "bias"); children are referenced, so one module may appear
 * in several places (and runs, and fires its hooks, each time). */
typedef struct us_module us_module;

/* Constructors return owned modules (refcount 1) with parameters zeroed, or
 * NULL when out of memory or when a size is not positive. */
us_module *us_sequential_new(void);
us_module *us_linear_new(int32_t in_features, int32_t out_features, int bias);
us_module *us_activation_new(us_module_kind kind); /* RELU, GELU, GELU_TANH, TANH, SIGMOID, DROPOUT, IDENTITY */
us_module *us_softmax_new(int32_t dim);            /* dim may be negative, as in PyTorch */
us_module *us_layernorm_new(int32_t normalized_shape, float eps, int elementwise_affine);
us_module *us_embedding_new(int32_t num_embeddings, int32_t embedding_dim);
/* Dropout's p is kept only to be reported; inference never drops. */
void us_dropout_set_p(us_module *m, float p);

void us_module_retain(us_module *m);
/* Drops one reference; frees the module (and releases its children) at zero. */
void us_module_release(us_module *m);

/* Appends `child` to a Sequential, taking a reference. A module may not
 * contain itself (US_ERR_INVALID_ARG). */
us_status us_sequential_append(us_module *seq, us_module *child, us_error *err);

us_module_kind us_module_get_kind(const us_module *m);
int32_t us_module_num_children(const us_module *m);
us_module *us_module_child(const us_module *m, int32_t i); /* borrowed */
/* Integer configuration: in_features, out_features, has_bias, dim,
 * normalized_shape, elementwise_affine, num_embeddings, embedding_dim;
 * returns 0 for a key the module does not have. */
int32_t us_module_int(const us_module *m, const char *key);
/* Float configuration: "eps", "p". */
float us_module_float(const us_module *m, const char *key);

int32_t us_module_num_params(const us_module *m);
/* The i-th parameter ("weight", then "bias"); borrowed, lives as long as m. */
us_tensor *us_module_param(us_module *m, int32_t i);
/* Call after writing into a parameter's data, so that cached forms (packed
 * weights) are rebuilt before the next forward. */
void us_module_params_changed(us_module *m);

/* The gradient of parameter i (same shape), or NULL before any backward
 * reached the module. Borrowed. */
float *us_module_param_grad(us_module *m, int32_t i);
/* Zeroes the parameter gradients of m and everything below it. */
void us_module_zero_grad(us_module *m);

/* ---------------------------------------------------------------- hooks */

/* The hook mechanism follows ggml's eval callback. For every point the forward
 * reaches, it first calls the hook with US_HOOK_ASK (in/out NULL): a zero
 * return means nobody watches and nothing is paid for the point. Otherwise,
 * once the output is computed, it calls US_HOOK_OBSERVE with the point's input
 * and output; the callback may read both and edit `out->data` in place (shape
 * fixed). A non-zero return from OBSERVE stops the forward with US_ERR_HOOK. */
typedef enum us_hook_phase {
    US_HOOK_ASK = 0,
    US_HOOK_OBSERVE = 1,
    /* During a backward: is the gradient at this point watched? Then, with
     * in = the gradient flowing to the point's input (NULL where the input is
     * not differentiable, e.g. token ids) and out = the gradient of its
     * output. Editing `in` changes what flows on upstream. */
    US_HOOK_GRAD_ASK = 2,
    US_HOOK_GRAD_OBSERVE = 3
} us_hook_phase;
typedef int (*us_hook_fn)(void *user, int32_t point, us_hook_phase phase,
                          const us_tensor *in, us_tensor *out);

/* ---------------------------------------------------------------- models */

/* A model: a root module, the table of its hook points, and the activation
 * arena its forwards write into. */
typedef struct us_model us_model;

/* Compute threads shared by models (src/core/threadpool.h), owned by the caller. */
typedef struct us_threadpool us_threadpool;

/* Takes a reference to `root`. Points are the root's descendants in pre-order,
 * each distinct module once (as PyTorch's named_modules), named by joining
 * child indices with "->". Returns owned, or NULL (with err) on OOM. */
us_model *us_model_new(us_module *root, us_error *err);
void us_model_free(us_model *model);

/* Compute threads for Linear layers (borrowed; NULL: this thread only), as
 * us_gpt2_set_threadpool. */
void us_model_set_threadpool(us_model *model, us_threadpool *pool);

int32_t us_model_num_points(const us_model *model);
const char *us_model_point_name(const us_model *model, int32_t point); /* borrowed */
us_module *us_model_point_module(const us_model *model, int32_t point); /* borrowed */
us_module *us_model_root(const us_model *model);                        /* borrowed */
/* The point index of a name, or -1. */
int32_t us_model_find_point(const us_model *model, const char *name);

/* Runs the root module on `input` (borrowed; F32, or I32 token ids when the
 * first module is an Embedding). `*output` becomes a view into the model's
 * arena, valid until the next forward or us_model_free. `hook` may be NULL.
 * On error the model stays usable. */
us_status us_model_forward(us_model *model, const us_tensor *input, us_tensor *output,
                           us_hook_fn hook, void *user, us_error *err);

/* As us_model_forward, and records the calls so that us_model_backward can
 * run; the activations stay in the arena until the next forward. */
us_status us_model_forward_train(us_model *model, const us_tensor *input, us_tensor *output, us_hook_fn hook,
                                 void *user, us_error *err);
/* Backpropagates dout (borrowed, shaped like the last output) through the
 * recorded forward: parameter gradients accumulate (us_module_param_grad),
 * and the hook sees US_HOOK_GRAD_* at every watched point, children before
 * their Sequential. *input_grad (may be NULL) becomes a view of the gradient
 * of a float input (data NULL for token ids), valid until the next forward. */
us_status us_model_backward(us_model *model, const float *dout, us_tensor *input_grad, us_hook_fn hook, void *user,
                            us_error *err);

/* ---------------------------------------------------------------- GPT-2 */

/* The GPT-2 family as HuggingFace's GPT2LMHeadModel computes it: pre-LN
 * blocks, gelu_new, causal softmax attention scaled by 1/sqrt(head size),
 * lm_head tied to wte. Every module of HF's tree and the attention's
 * q, k, v, scores, pattern and z (plus each block's resid_mid) is a hook point,
 * reached through the same us_hook_fn as the module models above. */
typedef struct us_gpt2_config {
    int32_t vocab_size;
    int32_t n_positions;
    int32_t n_embd;
    int32_t n_layer;
    int32_t n_head;
    int32_t n_inner; /* 0 means 4 * n_embd */
    float layer_norm_epsilon;
} us_gpt2_config;

typedef struct us_gpt2 us_gpt2;

/* Returns an owned model with zeroed parameters, or NULL with err naming the
 * bad config field (sizes must be positive; n_embd divisible by n_head). */
us_gpt2 *us_gpt2_new(const us_gpt2_config *cfg, us_error *err);
void us_gpt2_free(us_gpt2 *m);
const us_gpt2_config *us_gpt2_config_of(const us_gpt2 *m);

/* The same model with its matmul weights (the Conv1D weights and wte, which
 * is also the tied lm_head) held only as the GEMM kernels' packs, in
 * weight_dtype (US_F32, or US_F16: each value rounded once, to nearest even,
 * as it is written; compute stays f32): the weights exist once in memory.
 * Fill and read them with us_gpt2_param_write / us_gpt2_param_read (any
 * range of elements, e.g. a file's bytes as they arrive); the embedding reads
 * wte's rows from its pack, so with US_F16 the embedding is rounded too. */
us_gpt2 *us_gpt2_new_packed(const us_gpt2_config *cfg, us_dtype weight_dtype, us_error *err);

/* Parameters in HF's state-dict order and layout, named as HF names them
 * ("transformer.wte.weight", "transformer.h.0.attn.c_attn.weight" as
 * Conv1D's [nx, nf], ...; lm_head is tied to wte and not listed). Borrowed;
 * after writing into any of them call us_gpt2_params_changed. In a packed
 * model (us_gpt2_has_plain_weights 0) the matmul weights have data NULL:
 * use us_gpt2_param_read / _write for them (they work for every parameter). */
int32_t us_gpt2_num_params(const us_gpt2 *m);
us_tensor *us_gpt2_param(us_gpt2 *m, int32_t i);
void us_gpt2_params_changed(us_gpt2 *m);
/* Elements [first, first + n) of parameter i, flat in its HF layout: read as
 * f32 into dst (caller-owned), or written from src (n values of dtype dt:
 * F32, F16 or BF16, little-endian; any alignment). Writing needs no
 * us_gpt2_params_changed. Errors name the parameter (US_ERR_RANGE when the
 * range does not fit). */
us_status us_gpt2_param_read(const us_gpt2 *m, int32_t i, int64_t first, int64_t n, float *dst, us_error *err);
us_status us_gpt2_param_write(us_gpt2 *m, int32_t i, int64_t first, int64_t n, const void *src, us_dtype dt,
                              us_error *err);
/* Whether every parameter also sits in plain HF layout (us_gpt2_param's
 * data, us_gpt2_params_all): 1 for us_gpt2_new, 0 for us_gpt2_new_packed.
 * Setting 1 unpacks a copy (what training's optimizer updates; the packs are
 * re-made from it lazily); setting 0 packs what changed and frees the plain
 * copy of the matmul weights (with F16 packs, that rounds them). */
int us_gpt2_has_plain_weights(const us_gpt2 *m);
us_status us_gpt2_set_plain_weights(us_gpt2 *m, int plain, us_error *err);
/* How the matmul weights (Conv1D and the tied head) are stored for the
 * forward: US_F32 (default) or US_F16 (rounded once, to nearest even, when
 * packed; compute stays f32). A packed model's weights are converted in
 * place (to F16: rounded; back to F32: the rounded values stay). */
us_status us_gpt2_set_weight_dtype(us_gpt2 *m, us_dtype dt, us_error *err);

/* Compute threads for the forward's GEMMs and attention heads (borrowed; NULL,
 * the default: the calling thread only). Results are bit-identical for every
 * thread count. The pool API: src/core/threadpool.h. */
void us_gpt2_set_threadpool(us_gpt2 *m, us_threadpool *pool);

/* Hook points in the order of model.layers (HF's named_modules, with the
 * attention points after the attention's modules and resid_mid last in each
 * block). us_gpt2_point_fires is 0 for "transformer->h", a ModuleList that
 * never runs. */
int32_t us_gpt2_num_points(const us_gpt2 *m);
const char *us_gpt2_point_name(const us_gpt2 *m, int32_t point);
int us_gpt2_point_fires(const us_gpt2 *m, int32_t point);

/* A KV cache for `batch` rows of up to `max_len` positions (<= n_positions). */
typedef struct us_gpt2_cache us_gpt2_cache;
us_gpt2_cache *us_gpt2_cache_new(const us_gpt2 *m, int32_t batch, int32_t max_len, us_error *err);
void us_gpt2_cache_free(us_gpt2_cache *c);
int32_t us_gpt2_cache_len(const us_gpt2_cache *c);
void us_gpt2_cache_reset(us_gpt2_cache *c);

/* Runs ids (I32 [B, T], borrowed) through the model. With a cache, the ids
 * continue the cached sequence (positions cache_len .. cache_len + T - 1)
 * and, on success only, their keys and values are appended, so a failed
 * forward leaves the cache as it was. *logits becomes a view [B, T, V] into
 * the model's arena, valid until the next forward. */
us_status us_gpt2_forward(us_gpt2 *m, const us_tensor *ids, us_gpt2_cache *cache, us_tensor *logits,
                          us_hook_fn hook, void *user, us_error *err);

/* Training and gradients. A us_gpt2_grad holds the gradient of every
 * parameter (same order and shapes as us_gpt2_param) and the activations a
 * training forward saves for the backward. */
typedef struct us_gpt2_grad us_gpt2_grad;
us_gpt2_grad *us_gpt2_grad_new(const us_gpt2 *m, us_error *err);
void us_gpt2_grad_free(us_gpt2_grad *g);
/* Sets every parameter gradient to zero (saved activations are kept). */
void us_gpt2_grad_zero(us_gpt2_grad *g);
/* The gradient of parameter i, laid out like us_gpt2_param(m, i)->data. */
float *us_gpt2_grad_param(us_gpt2_grad *g, const us_gpt2 *m, int32_t i);
/* All parameter gradients, contiguous in parameter order (n floats). */
float *us_gpt2_grad_all(us_gpt2_grad *g, size_t *n);
/* All parameters, contiguous in the same order (for the optimizer); NULL for
 * a packed model (us_gpt2_set_plain_weights first). *n: the floats of the
 * plain layout either way (= those of us_gpt2_grad_all). */
float *us_gpt2_params_all(us_gpt2 *m, size_t *n);

/* A forward (no cache) that saves what us_gpt2_backward needs into g. */
us_status us_gpt2_forward_train(us_gpt2 *m, const us_tensor *ids, us_gpt2_grad *g, us_tensor *logits,
                                us_hook_fn hook, void *user, us_error *err);
/* Cross-entropy of the saved logits against labels (I32 [B, T], HF's
 * `labels`: position t is scored on labels[t + 1], -100 ignored), mean over
 * the scored positions; writes dlogits [B, T, V] (caller-owned). */
us_status us_gpt2_loss(us_gpt2_grad *g, const us_gpt2 *m, const int32_t *labels, float *loss, int32_t *n_scored,
                       float *dlogits, us_error *err);
/* Backpropagates dlogits [B, T, V] (borrowed) through the saved forward,
 * accumulating into g's parameter gradients, and reports gradients to the
 * hook (US_HOOK_GRAD_*) at every point it watches. */
us_status us_gpt2_backward(us_gpt2 *m, us_gpt2_grad *g, const float *dlogits, us_hook_fn hook, void *user,
                           us_error *err);

/* The unembedding for any residual-stream vectors (logit lens, logit hooks):
 * out [N, V] = (apply_ln_f ? ln_f(x) : x) · wteᵀ for x [N, C] (borrowed).
 * Uses no arena memory, so a hook may call it during a forward. */
us_status us_gpt2_unembed(us_gpt2 *m, const float *x, int32_t n, float *out, int apply_ln_f, us_error *err);

/* ---------------------------------------------------------------- index strings */

/* NumPy-style index strings, as Unseal's hooks take them: comma-separated
 * items, each an integer ("3", "-1"), a slice ("1:5", "::2", "-3:"), a list
 * ("[1,4]"), ":" or one "..." — parsed by a small scanner, never evaluated. */
typedef enum us_index_kind {
    US_INDEX_INT = 0,
    US_INDEX_SLICE = 1,
    US_INDEX_LIST = 2,
    US_INDEX_ELLIPSIS = 3
} us_index_kind;

typedef struct us_index_item {
    us_index_kind kind;
    int32_t has_start, has_stop; /* SLICE: 0 means the bound was left out */
    int64_t start, stop, step;   /* INT: start is the index; SLICE: step != 0 (default 1) */
    int32_t list_off, list_len;  /* LIST: entries list[list_off .. list_off + list_len) */
} us_index_item;

#define US_INDEX_MAX_ITEMS 16

typedef struct us_index {
    int32_t n_items;
    us_index_item items[US_INDEX_MAX_ITEMS];
    int32_t n_list;
    int64_t *list; /* owned: the entries of every LIST item */
} us_index;

/* Parses `len` bytes of `s` (borrowed). On failure err says what was expected
 * and the 0-based position of the offending character, and *out is empty. */
us_status us_index_parse(const char *s, size_t len, us_index *out, us_error *err);
void us_index_free(us_index *idx);

/* ---------------------------------------------------------------- safetensors */

/* One tensor entry of a safetensors header. */
typedef struct us_st_entry {
    char *name;   /* owned by the us_safetensors, NUL-terminated, JSON-unescaped */
    us_dtype dtype;
    int32_t ndim;
    int32_t shape[US_MAX_DIMS];
    uint64_t begin, end;  /* byte offsets from the start of the data section */
} us_st_entry;

/* A parsed safetensors file. It borrows the buffer it was parsed from:
 * `data` points into it. */
typedef struct us_safetensors {
    int32_t n_entries;
    us_st_entry *entries; /* owned, in file order */
    const uint8_t *data;  /* borrowed: start of the data section */
    uint64_t data_len;
    uint64_t header_len; /* N, the JSON header's length */
    char *metadata_json; /* owned copy of the "__metadata__" object's JSON text, or NULL */
} us_safetensors;

/* Parses and fully validates `buf` (borrowed, `len` bytes): header length
 * within the file, UTF-8 JSON with only the keys the format defines, known
 * dtypes, shapes whose byte size equals end - begin, offsets within the data
 * section, not overlapping, and covering it without gaps. On failure `*st` is
 * left empty and err names the tensor or offset at fault. */
us_status us_safetensors_parse(const uint8_t *buf, size_t len, us_safetensors *st, us_error *err);
/* The same validation from the header alone: `buf` holds the first `avail`
 * bytes (at least 8 + the header length) of a file of `file_len` bytes.
 * Offsets are checked against file_len; `data` is NULL unless the whole file
 * was given. For copying tensors straight from a file to their destination. */
us_status us_safetensors_parse_header(const uint8_t *buf, size_t avail, uint64_t file_len, us_safetensors *st,
                                      us_error *err);
void us_safetensors_free(us_safetensors *st);
/* Index of the entry called `name`, or -1. */
int32_t us_safetensors_find(const us_safetensors *st, const char *name);

/* ---------------------------------------------------------------- HuggingFace model folders */

/* Reads a HuggingFace config.json (`json`, `len` bytes, borrowed) into *out,
 * with the rules of web/gpt2.js parseConfig: model_type "gpt2" (or, without
 * model_type, an architecture starting with "GPT2"); GPT2Config's defaults
 * for missing keys (vocab_size 50257, n_positions 1024, n_embd 768, n_layer 12,
 * n_head 12, n_inner null -> 0, layer_norm_epsilon 1e-5); positive integer
 * sizes below 2^31 with n_embd divisible by n_head; activation_function
 * "gelu_new" or "gelu_pytorch_tanh"; scale_attn_weights true and neither
 * scale_attn_by_inverse_layer_idx nor add_cross_attention. A key given twice
 * keeps its last value, as JSON.parse does. On failure (US_ERR_FORMAT, or
 * US_ERR_OOM) *out is zeroed and err names the key and its value. */
us_status us_gpt2_config_parse(const char *json, size_t len, us_gpt2_config *out, us_error *err);

/* One tensor of a sharded checkpoint's index and the shard that holds it. */
typedef struct us_shard_tensor {
    char *name;   /* owned by the us_shard_index, NUL-terminated */
    int32_t file; /* index into us_shard_index.files */
} us_shard_tensor;

/* A parsed model.safetensors.index.json. */
typedef struct us_shard_index {
    int32_t n_files;
    char **files;             /* owned: the distinct shard file names, in order of first appearance */
    int32_t n_tensors;
    us_shard_tensor *tensors; /* owned: weight_map's entries, in file order */
} us_shard_index;

/* Parses a model.safetensors.index.json (`json`, `len` bytes, borrowed): an
 * object whose "weight_map" is an object of tensor name -> shard file name.
 * Every file name must be a plain relative name inside the model folder: not
 * empty, not absolute, no scheme ("https:"), no "..", "." or empty path
 * segments, no backslash, NUL or other control character. A tensor named
 * twice is an error. On success *out is owned by the caller (free with
 * us_shard_index_free); on failure it is empty and err says why. */
us_status us_shard_index_parse(const char *json, size_t len, us_shard_index *out, us_error *err);
void us_shard_index_free(us_shard_index *idx);

#ifdef __cplusplus
}
#endif
#endif /* UNSEAL_H */
