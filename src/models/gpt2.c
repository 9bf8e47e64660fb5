/* gpt2.c — the GPT-2 family (HuggingFace GPT2LMHeadModel semantics) with a
 * hook point at every module of HF's tree and inside the attention.
 *
 * Shapes, stated once: B batch rows, T new positions, P positions already in
 * the KV cache (0 without one), S = P + T key positions, C = n_embd,
 * H = n_head, hs = C / H, F = n_inner (4 C), V = vocab_size, L = n_layer.
 *
 * Parameters are in HF's layout (Conv1D weights [nx, nf]), and the matmul
 * weights (the Conv1Ds and wte, the tied lm_head) are packed for the GEMM
 * kernels. Two ways to hold them:
 *   packed (us_gpt2_new_packed, what loading from files uses): the packs are
 *     the only copy of the matmul weights, written and read in place
 *     (us_gpt2_param_write / _read); the embedding reads wte's rows out of
 *     its pack; the other parameters sit in one small allocation;
 *   plain (us_gpt2_new, and training): every parameter in one allocation in
 *     HF's layout, the packs a cache re-made lazily after
 *     us_gpt2_params_changed.
 * us_gpt2_set_plain_weights moves between the two. A forward asks the hook
 * about every point once, at its start, into a bitmap, and reports only
 * watched points.
 * Every activation is still computed in full here; the bitmap is what lets a
 * fused attention skip materialising unwatched q/k/v/scores/pattern/z. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/threadpool.h"
#include "kernels/attention.h"
#include "kernels/gemm.h"
#include "kernels/vgelu.h"
#include "ops/ops.h"
#include "ops/ops_backward.h"
#include "unseal.h"

/* ---------------------------------------------------------------- points */

/* Points of one block, in model.layers order. */
enum {
    BP_BLOCK, BP_LN_1, BP_ATTN, BP_C_ATTN, BP_ATTN_C_PROJ, BP_ATTN_DROPOUT, BP_RESID_DROPOUT,
    BP_Q, BP_K, BP_V, BP_SCORES, BP_PATTERN, BP_Z,
    BP_LN_2, BP_MLP, BP_C_FC, BP_MLP_C_PROJ, BP_ACT, BP_MLP_DROPOUT, BP_RESID_MID,
    BP_COUNT
};
static const char *const block_suffix[BP_COUNT] = {
    "", "->ln_1", "->attn", "->attn->c_attn", "->attn->c_proj", "->attn->attn_dropout",
    "->attn->resid_dropout", "->attn->q", "->attn->k", "->attn->v", "->attn->scores",
    "->attn->pattern", "->attn->z", "->ln_2", "->mlp", "->mlp->c_fc", "->mlp->c_proj",
    "->mlp->act", "->mlp->dropout", "->resid_mid"};

/* Points outside the blocks. */
enum { GP_TRANSFORMER, GP_WTE, GP_WPE, GP_DROP, GP_H, GP_FIRST_BLOCK };
#define GP_LN_F(L) (GP_FIRST_BLOCK + (L) * BP_COUNT)
#define GP_LM_HEAD(L) (GP_LN_F(L) + 1)
#define BLOCK_POINT(l, bp) (GP_FIRST_BLOCK + (l) * BP_COUNT + (bp))

/* ---------------------------------------------------------------- params */

/* Per-layer parameter slots, in HF's state-dict order. */
enum {
    LP_LN_1_W, LP_LN_1_B, LP_C_ATTN_W, LP_C_ATTN_B, LP_ATTN_C_PROJ_W, LP_ATTN_C_PROJ_B,
    LP_LN_2_W, LP_LN_2_B, LP_C_FC_W, LP_C_FC_B, LP_MLP_C_PROJ_W, LP_MLP_C_PROJ_B, LP_COUNT
};
static const char *const layer_param_name[LP_COUNT] = {
    ".ln_1.weight", ".ln_1.bias", ".attn.c_attn.weight", ".attn.c_attn.bias", ".attn.c_proj.weight",
    ".attn.c_proj.bias", ".ln_2.weight", ".ln_2.bias", ".mlp.c_fc.weight", ".mlp.c_fc.bias",
    ".mlp.c_proj.weight", ".mlp.c_proj.bias"};
/* Global slots: wte, wpe first; ln_f last. */
#define PARAM_WTE 0
#define PARAM_WPE 1
#define PARAM_LAYER(l, lp) (2 + (l) * LP_COUNT + (lp))
#define PARAM_LN_F_W(L) (2 + (L) * LP_COUNT)
#define PARAM_LN_F_B(L) (PARAM_LN_F_W(L) + 1)

typedef struct layer_packs {
    us_gemm_weights *c_attn, *attn_c_proj, *c_fc, *mlp_c_proj;
} layer_packs;

struct us_gpt2 {
    us_gpt2_config cfg;
    int32_t n_params;
    us_tensor *params; /* [n_params], data into `storage` (NULL for a packed
                          model's matmul weights), names owned */
    size_t *offset;    /* [n_params]: floats from the start of the plain layout */
    float *storage;    /* plain: every parameter, in the plain layout; packed:
                          the parameters that are not packed, in order */
    size_t n_storage;  /* floats in the plain layout (gradients use it too) */
    size_t n_unpacked; /* floats of the parameters that are never packed */
    int plain;         /* 1: storage holds every parameter (see the top) */
    int packs_dirty;   /* packed f16 weights written since us_gemm_weights_finish */
    int32_t n_points;
    char **point_names; /* [n_points], owned */
    layer_packs *packs; /* [L] */
    us_gemm_weights *wte_pack; /* lm_head: logits = x · wteᵀ */
    int packs_valid;
    us_dtype pack_dtype; /* US_F32, or US_F16: matmul weights stored as half */
    us_arena arena;
    us_threadpool *pool; /* borrowed compute threads for the forward, or NULL */
};

struct us_gpt2_cache {
    int32_t batch, max_len, len;
    int32_t L, H, hs;
    float *k, *v; /* [L, B, H, max_len, hs] each */
};

/* Gradients of every parameter, and the activations a training forward saves
 * for the backward (llm.c's layout: one block per kind, layer-major). */
struct us_gpt2_grad {
    float *dparams;   /* same layout as us_gpt2.storage */
    size_t n_floats;  /* of dparams */
    int32_t B, T;     /* of the saved activations; 0 until a training forward */
    int valid;        /* the saved activations belong to a completed forward */
    size_t acts_cap;  /* floats allocated in acts */
    float *acts;      /* one allocation holding the arrays below */
    float *x_in;      /* [L+1, B, T, C]: block inputs; [L] is ln_f's input */
    float *ln1, *ln1_mean, *ln1_rstd;  /* [L, BT, C], [L, BT], [L, BT] */
    float *q, *k, *v;                  /* [L, B, H, T, hs] */
    float *pattern;                    /* [L, B, H, T, T] */
    float *z;                          /* [L, B, T, H, hs] */
    float *resid_mid;                  /* [L, BT, C] */
    float *ln2, *ln2_mean, *ln2_rstd;  /* [L, BT, C], [L, BT], [L, BT] */
    float *fc, *act;                   /* [L, BT, F] */
    float *lnf, *lnf_mean, *lnf_rstd;  /* [BT, C], [BT], [BT] */
    float *logits;                     /* [BT, V] */
    int32_t *ids;                      /* [BT] */
};

const us_gpt2_config *us_gpt2_config_of(const us_gpt2 *m) { return &m->cfg; }
int32_t us_gpt2_num_params(const us_gpt2 *m) { return m->n_params; }
us_tensor *us_gpt2_param(us_gpt2 *m, int32_t i) { return (i >= 0 && i < m->n_params) ? &m->params[i] : NULL; }
void us_gpt2_params_changed(us_gpt2 *m) {
    if (m->plain) m->packs_valid = 0; /* packed: writes go through us_gpt2_param_write */
}

/* The pack slot of parameter i (wte, for the tied lm_head, and the Conv1D
 * weights), or NULL for the parameters used as they are. */
static us_gemm_weights **pack_slot(us_gpt2 *m, int32_t i) {
    if (i == PARAM_WTE) return &m->wte_pack;
    if (i < 2 || i >= PARAM_LN_F_W(m->cfg.n_layer)) return NULL;
    layer_packs *p = &m->packs[(i - 2) / LP_COUNT];
    switch ((i - 2) % LP_COUNT) {
    case LP_C_ATTN_W: return &p->c_attn;
    case LP_ATTN_C_PROJ_W: return &p->attn_c_proj;
    case LP_C_FC_W: return &p->c_fc;
    case LP_MLP_C_PROJ_W: return &p->mlp_c_proj;
    default: return NULL;
    }
}
static int is_packed_param(const us_gpt2 *m, int32_t i) { return pack_slot((us_gpt2 *)m, i) != NULL; }

/* A pack of parameter i in m->pack_dtype: from its values in HF's layout
 * (`plain`: wte [V, C] is W [N, K]; a Conv1D [nx, nf] is Wᵀ), or zeros when
 * plain is NULL. NULL on OOM. */
static us_gemm_weights *make_pack(const us_gpt2 *m, int32_t i, const float *plain) {
    const int32_t rows = m->params[i].shape[0], cols = m->params[i].shape[1];
    const int half = m->pack_dtype == US_F16;
    if (i == PARAM_WTE) {
        if (!plain) return us_gemm_weights_new_zero(rows, cols, half);
        return half ? us_gemm_weights_new_f16(plain, rows, cols) : us_gemm_weights_new(plain, rows, cols);
    }
    if (!plain) return us_gemm_weights_new_zero(cols, rows, half);
    return half ? us_gemm_weights_new_kn_f16(plain, cols, rows, cols) : us_gemm_weights_new_kn(plain, cols, rows, cols);
}

/* Elements [first, first + n) of parameter i in HF's layout, in its pack w:
 * copied into dst (src NULL) or written from src (dst NULL). */
static void pack_flat(us_gemm_weights *w, int32_t i, int32_t cols, int64_t first, int64_t n, float *dst,
                      const float *src) {
    const int kn = i != PARAM_WTE; /* Conv1D: HF's rows are the pack's k */
    while (n > 0) {
        const int32_t r = (int32_t)(first / cols), c = (int32_t)(first % cols);
        int32_t rows = 1, len = (int32_t)(n < cols - c ? n : cols - c);
        if (c == 0 && n >= cols) { /* whole rows at once */
            rows = (int32_t)(n / cols);
            len = cols;
        }
        if (dst) {
            if (kn) us_gemm_weights_read_t(w, r, rows, c, len, dst, len);
            else us_gemm_weights_read(w, r, rows, c, len, dst, len);
            dst += (int64_t)rows * len;
        } else {
            if (kn) us_gemm_weights_write_t(w, r, rows, c, len, src, len);
            else us_gemm_weights_write(w, r, rows, c, len, src, len);
            src += (int64_t)rows * len;
        }
        first += (int64_t)rows * len;
        n -= (int64_t)rows * len;
    }
}

/* Points every parameter's data at its place in storage (see the struct). */
static void point_params(us_gpt2 *m) {
    float *at = m->storage;
    for (int32_t i = 0; i < m->n_params; i++) {
        if (m->plain) {
            m->params[i].data = m->storage + m->offset[i];
        } else if (is_packed_param(m, i)) {
            m->params[i].data = NULL;
        } else {
            m->params[i].data = at;
            at += us_tensor_numel(&m->params[i]);
        }
    }
}

void us_gpt2_set_threadpool(us_gpt2 *m, us_threadpool *pool) { m->pool = pool; }

us_status us_gpt2_set_weight_dtype(us_gpt2 *m, us_dtype dt, us_error *err) {
    if (dt != US_F32 && dt != US_F16)
        return us_fail(err, US_ERR_DTYPE, "GPT-2: matmul weights can be stored as F32 or F16, not %s", us_dtype_name(dt));
    if (m->pack_dtype == dt) return US_OK;
    m->pack_dtype = dt;
    if (m->plain) {
        m->packs_valid = 0;
        return US_OK;
    }
    /* Packed: re-make each pack from its values, one weight at a time. */
    for (int32_t i = 0; i < m->n_params; i++) {
        us_gemm_weights **slot = pack_slot(m, i);
        if (!slot) continue;
        const int64_t n = us_tensor_numel(&m->params[i]);
        float *tmp = malloc(sizeof(float) * (size_t)n);
        us_gemm_weights *w = NULL;
        if (tmp) {
            pack_flat(*slot, i, m->params[i].shape[1], 0, n, tmp, NULL);
            w = make_pack(m, i, tmp);
            free(tmp);
        }
        if (!w) /* the weights converted so far stay converted; all stay usable */
            return us_fail(err, US_ERR_OOM, "GPT-2: out of memory converting '%s' to %s", m->params[i].name, us_dtype_name(dt));
        us_gemm_weights_free(*slot);
        *slot = w;
    }
    return US_OK;
}
int32_t us_gpt2_num_points(const us_gpt2 *m) { return m->n_points; }
const char *us_gpt2_point_name(const us_gpt2 *m, int32_t p) {
    return (p >= 0 && p < m->n_points) ? m->point_names[p] : NULL;
}
int us_gpt2_point_fires(const us_gpt2 *m, int32_t p) { return p >= 0 && p < m->n_points && p != GP_H; }

static void free_packs(us_gpt2 *m) {
    if (m->packs)
        for (int32_t l = 0; l < m->cfg.n_layer; l++) {
            us_gemm_weights_free(m->packs[l].c_attn);
            us_gemm_weights_free(m->packs[l].attn_c_proj);
            us_gemm_weights_free(m->packs[l].c_fc);
            us_gemm_weights_free(m->packs[l].mlp_c_proj);
            memset(&m->packs[l], 0, sizeof m->packs[l]);
        }
    us_gemm_weights_free(m->wte_pack);
    m->wte_pack = NULL;
    m->packs_valid = 0;
}

void us_gpt2_free(us_gpt2 *m) {
    if (!m) return;
    free_packs(m);
    free(m->packs);
    if (m->params)
        for (int32_t i = 0; i < m->n_params; i++) free((char *)m->params[i].name);
    free(m->params);
    free(m->offset);
    if (m->point_names)
        for (int32_t i = 0; i < m->n_points; i++) free(m->point_names[i]);
    free(m->point_names);
    free(m->storage);
    us_arena_free(&m->arena);
    free(m);
}

/* A malloc'd copy of a + b, or of a + "<l>" + b when l >= 0. */
static char *dup_printf(const char *a, const char *b, int32_t l) {
    char buf[128];
    if (l >= 0) snprintf(buf, sizeof buf, "%s%d%s", a, (int)l, b);
    else snprintf(buf, sizeof buf, "%s%s", a, b);
    size_t n = strlen(buf) + 1;
    char *s = malloc(n);
    if (s) memcpy(s, buf, n);
    return s;
}

/* A model with zeroed parameters, plain or packed (with packs of dtype). */
static us_gpt2 *gpt2_create(const us_gpt2_config *cfg_in, int packed, us_dtype dtype, us_error *err) {
    if (!cfg_in) {
        us_fail(err, US_ERR_INVALID_ARG, "GPT-2: NULL config");
        return NULL;
    }
    us_gpt2_config cfg = *cfg_in;
    if (cfg.n_inner == 0) cfg.n_inner = 4 * cfg.n_embd;
    const struct { const char *name; int32_t v; } sizes[] = {
        {"vocab_size", cfg.vocab_size}, {"n_positions", cfg.n_positions}, {"n_embd", cfg.n_embd},
        {"n_layer", cfg.n_layer},       {"n_head", cfg.n_head},           {"n_inner", cfg.n_inner}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        if (sizes[i].v <= 0) {
            us_fail(err, US_ERR_INVALID_ARG, "GPT-2 config: %s must be positive, got %d", sizes[i].name,
                    (int)sizes[i].v);
            return NULL;
        }
    if (cfg.n_embd % cfg.n_head != 0) {
        us_fail(err, US_ERR_INVALID_ARG, "GPT-2 config: n_embd (%d) must be divisible by n_head (%d)",
                (int)cfg.n_embd, (int)cfg.n_head);
        return NULL;
    }
    if (!(cfg.layer_norm_epsilon >= 0.0f)) {
        us_fail(err, US_ERR_INVALID_ARG, "GPT-2 config: layer_norm_epsilon must be >= 0");
        return NULL;
    }
    const int64_t C = cfg.n_embd, F = cfg.n_inner, V = cfg.vocab_size, P = cfg.n_positions, L = cfg.n_layer;
    const int64_t per_layer = 2 * C + (C * 3 * C + 3 * C) + (C * C + C) + 2 * C + (C * F + F) + (F * C + C);
    const int64_t total = V * C + P * C + L * per_layer + 2 * C;
    /* Bytes the weights take: a plain model holds every parameter as f32 and
     * the matmul weights again, packed; a packed one the packs only (2 bytes
     * a weight for F16) and the other parameters as f32. */
    const int64_t matmul = V * C + L * (C * 3 * C + C * C + 2 * C * F);
    const double bytes = packed ? (double)matmul * (dtype == US_F16 ? 2 : 4) + (double)(total - matmul) * 4
                                : (double)total * 4 * 2;
    if (V * C > INT32_MAX || C * F > INT32_MAX || bytes > (double)SIZE_MAX) {
        us_fail(err, US_ERR_OOM, "GPT-2: %lld parameters do not fit in this address space", (long long)total);
        return NULL;
    }

    us_gpt2 *m = calloc(1, sizeof *m);
    if (!m) goto oom;
    m->cfg = cfg;
    m->n_params = (int32_t)(2 + L * LP_COUNT + 2);
    m->params = calloc((size_t)m->n_params, sizeof *m->params);
    m->offset = calloc((size_t)m->n_params, sizeof *m->offset);
    m->n_storage = (size_t)total;
    m->plain = !packed;
    m->pack_dtype = dtype;
    m->packs = calloc((size_t)L, sizeof *m->packs);
    m->n_points = (int32_t)(GP_FIRST_BLOCK + L * BP_COUNT + 2);
    m->point_names = calloc((size_t)m->n_points, sizeof *m->point_names);
    if (!m->params || !m->offset || !m->packs || !m->point_names) goto oom;

    /* The parameters' names, shapes and places in the plain layout, in
     * state-dict order. */
    size_t at = 0;
    int32_t pi = 0;
#define ADD(nm, nd, ...)                                                            \
    do {                                                                            \
        const int32_t shape_[] = {__VA_ARGS__};                                     \
        m->offset[pi] = at;                                                         \
        us_tensor *t_ = &m->params[pi++];                                           \
        *t_ = us_tensor_make(US_F32, NULL, nd, shape_);                             \
        t_->name = nm;                                                              \
        if (!t_->name) goto oom;                                                    \
        at += (size_t)us_tensor_numel(t_);                                          \
    } while (0)
    ADD(dup_printf("transformer.wte.weight", "", -1), 2, (int32_t)V, (int32_t)C);
    ADD(dup_printf("transformer.wpe.weight", "", -1), 2, (int32_t)P, (int32_t)C);
    for (int32_t l = 0; l < L; l++) {
        const int32_t c = (int32_t)C, f = (int32_t)F;
        const int32_t shapes[LP_COUNT][2] = {{c, 0}, {c, 0}, {c, 3 * c}, {3 * c, 0}, {c, c}, {c, 0},
                                             {c, 0}, {c, 0}, {c, f},     {f, 0},     {f, c}, {c, 0}};
        for (int32_t lp = 0; lp < LP_COUNT; lp++) {
            char *name = dup_printf("transformer.h.", layer_param_name[lp], l);
            if (shapes[lp][1]) ADD(name, 2, shapes[lp][0], shapes[lp][1]);
            else ADD(name, 1, shapes[lp][0]);
        }
    }
    ADD(dup_printf("transformer.ln_f.weight", "", -1), 1, (int32_t)C);
    ADD(dup_printf("transformer.ln_f.bias", "", -1), 1, (int32_t)C);
#undef ADD
    for (int32_t i = 0; i < m->n_params; i++)
        if (!is_packed_param(m, i)) m->n_unpacked += (size_t)us_tensor_numel(&m->params[i]);
    m->storage = calloc(packed ? m->n_unpacked : m->n_storage, sizeof(float));
    if (!m->storage) goto oom;
    point_params(m);
    if (packed) {
        for (int32_t i = 0; i < m->n_params; i++) {
            us_gemm_weights **slot = pack_slot(m, i);
            if (slot && !(*slot = make_pack(m, i, NULL))) goto oom;
        }
        m->packs_valid = 1;
    }

    /* Point names, in model.layers order. */
    const char *globals[GP_FIRST_BLOCK] = {"transformer", "transformer->wte", "transformer->wpe",
                                           "transformer->drop", "transformer->h"};
    for (int32_t i = 0; i < GP_FIRST_BLOCK; i++)
        if (!(m->point_names[i] = dup_printf(globals[i], "", -1))) goto oom;
    for (int32_t l = 0; l < L; l++)
        for (int32_t bp = 0; bp < BP_COUNT; bp++)
            if (!(m->point_names[BLOCK_POINT(l, bp)] = dup_printf("transformer->h->", block_suffix[bp], l)))
                goto oom;
    if (!(m->point_names[GP_LN_F(L)] = dup_printf("transformer->ln_f", "", -1))) goto oom;
    if (!(m->point_names[GP_LM_HEAD(L)] = dup_printf("lm_head", "", -1))) goto oom;
    return m;
oom:
    us_fail(err, US_ERR_OOM, "GPT-2: out of memory allocating a model of %lld parameters", (long long)total);
    us_gpt2_free(m);
    return NULL;
}

us_gpt2 *us_gpt2_new(const us_gpt2_config *cfg, us_error *err) { return gpt2_create(cfg, 0, US_F32, err); }

us_gpt2 *us_gpt2_new_packed(const us_gpt2_config *cfg, us_dtype weight_dtype, us_error *err) {
    if (weight_dtype != US_F32 && weight_dtype != US_F16) {
        us_fail(err, US_ERR_DTYPE, "GPT-2: matmul weights can be stored as F32 or F16, not %s", us_dtype_name(weight_dtype));
        return NULL;
    }
    return gpt2_create(cfg, 1, weight_dtype, err);
}

int us_gpt2_has_plain_weights(const us_gpt2 *m) { return m->plain; }

us_status us_gpt2_param_read(const us_gpt2 *m, int32_t i, int64_t first, int64_t n, float *dst, us_error *err) {
    if (!m || i < 0 || i >= m->n_params || first < 0 || n < 0 || (n > 0 && !dst))
        return us_fail(err, US_ERR_INVALID_ARG, "GPT-2: bad arguments reading parameter %d", (int)i);
    const us_tensor *t = &m->params[i];
    if (first > us_tensor_numel(t) - n)
        return us_fail(err, US_ERR_RANGE, "GPT-2: elements [%lld, %lld) are outside '%s' (%lld elements)",
                       (long long)first, (long long)(first + n), t->name, (long long)us_tensor_numel(t));
    us_gemm_weights **slot = m->plain ? NULL : pack_slot((us_gpt2 *)m, i);
    if (slot) pack_flat(*slot, i, t->shape[1], first, n, dst, NULL);
    else if (n > 0) memcpy(dst, (const float *)t->data + first, sizeof(float) * (size_t)n);
    return US_OK;
}

us_status us_gpt2_param_write(us_gpt2 *m, int32_t i, int64_t first, int64_t n, const void *src, us_dtype dt,
                              us_error *err) {
    if (!m || i < 0 || i >= m->n_params || first < 0 || n < 0 || (n > 0 && !src))
        return us_fail(err, US_ERR_INVALID_ARG, "GPT-2: bad arguments writing parameter %d", (int)i);
    const us_tensor *t = &m->params[i];
    if (dt != US_F32 && dt != US_F16 && dt != US_BF16)
        return us_fail(err, US_ERR_DTYPE, "GPT-2: '%s' can be written from F32, F16 or BF16, not %s", t->name,
                       us_dtype_name(dt));
    if (first > us_tensor_numel(t) - n)
        return us_fail(err, US_ERR_RANGE, "GPT-2: elements [%lld, %lld) are outside '%s' (%lld elements)",
                       (long long)first, (long long)(first + n), t->name, (long long)us_tensor_numel(t));
    us_gemm_weights **slot = m->plain ? NULL : pack_slot(m, i);
    if (!slot) {
        us_convert_to_f32((float *)t->data + first, src, dt, (size_t)n);
        us_gpt2_params_changed(m);
        return US_OK;
    }
    if (dt == US_F32 && ((uintptr_t)src & (sizeof(float) - 1)) == 0) { /* straight from src */
        pack_flat(*slot, i, t->shape[1], first, n, NULL, src);
        if (us_gemm_weights_is_f16(*slot)) m->packs_dirty = 1;
        return US_OK;
    }
    /* Into the pack, through a block of floats (src may be unaligned). */
    float buf[4096];
    const size_t esize = us_dtype_size(dt);
    for (int64_t done = 0; done < n;) {
        const int64_t len = n - done < 4096 ? n - done : 4096;
        us_convert_to_f32(buf, (const uint8_t *)src + (size_t)done * esize, dt, (size_t)len);
        pack_flat(*slot, i, t->shape[1], first + done, len, NULL, buf);
        done += len;
    }
    if (us_gemm_weights_is_f16(*slot)) m->packs_dirty = 1; /* its side list: made again before use */
    return US_OK;
}

/* Makes the packs ready for the GEMM: in a plain model, (re)packs every
 * matmul weight from the HF-layout parameters when they changed; in either,
 * finishes the f16 packs written since (their side lists). */
static us_status ensure_packs(us_gpt2 *m, us_error *err) {
    if (m->plain && !m->packs_valid) {
        free_packs(m);
        for (int32_t i = 0; i < m->n_params; i++) {
            us_gemm_weights **slot = pack_slot(m, i);
            if (slot && !(*slot = make_pack(m, i, m->params[i].data))) {
                free_packs(m);
                return us_fail(err, US_ERR_OOM, "GPT-2: out of memory packing weights");
            }
        }
        m->packs_valid = 1;
        m->packs_dirty = 0;
    }
    if (m->packs_dirty) {
        for (int32_t i = 0; i < m->n_params; i++) {
            us_gemm_weights **slot = pack_slot(m, i);
            if (slot && us_gemm_weights_finish(*slot) != 0)
                return us_fail(err, US_ERR_OOM, "GPT-2: out of memory packing weights");
        }
        m->packs_dirty = 0;
    }
    return US_OK;
}

us_status us_gpt2_set_plain_weights(us_gpt2 *m, int plain, us_error *err) {
    plain = plain != 0;
    if (plain == m->plain) return US_OK;
    if (plain) { /* every parameter into the plain layout; the packs stay (valid) */
        float *all = m->n_storage <= SIZE_MAX / sizeof(float) ? malloc(sizeof(float) * m->n_storage) : NULL;
        if (!all)
            return us_fail(err, US_ERR_OOM, "GPT-2: out of memory for a plain copy of the weights (%zu floats)", m->n_storage);
        for (int32_t i = 0; i < m->n_params; i++) {
            const us_tensor *t = &m->params[i];
            us_gemm_weights **slot = pack_slot(m, i);
            if (slot) pack_flat(*slot, i, t->shape[1], 0, us_tensor_numel(t), all + m->offset[i], NULL);
            else memcpy(all + m->offset[i], t->data, sizeof(float) * (size_t)us_tensor_numel(t));
        }
        free(m->storage);
        m->storage = all;
        m->plain = 1;
        m->packs_valid = 1;
        point_params(m);
        return US_OK;
    }
    us_status s = ensure_packs(m, err); /* the packs hold the current values */
    if (s != US_OK) return s;
    float *rest = malloc(sizeof(float) * (m->n_unpacked ? m->n_unpacked : 1));
    if (!rest) return us_fail(err, US_ERR_OOM, "GPT-2: out of memory");
    float *at = rest;
    for (int32_t i = 0; i < m->n_params; i++)
        if (!is_packed_param(m, i)) {
            const size_t n = (size_t)us_tensor_numel(&m->params[i]);
            memcpy(at, m->params[i].data, sizeof(float) * n);
            at += n;
        }
    free(m->storage);
    m->storage = rest;
    m->plain = 0;
    point_params(m);
    return US_OK;
}

/* ---------------------------------------------------------------- cache */

us_gpt2_cache *us_gpt2_cache_new(const us_gpt2 *m, int32_t batch, int32_t max_len, us_error *err) {
    if (batch <= 0 || max_len <= 0 || max_len > m->cfg.n_positions) {
        us_fail(err, US_ERR_INVALID_ARG, "KV cache: batch (%d) must be positive and max_len (%d) in 1..n_positions (%d)",
                (int)batch, (int)max_len, (int)m->cfg.n_positions);
        return NULL;
    }
    us_gpt2_cache *c = calloc(1, sizeof *c);
    const size_t n = (size_t)m->cfg.n_layer * batch * m->cfg.n_embd * (size_t)max_len;
    if (c) {
        c->k = malloc(n * sizeof(float));
        c->v = malloc(n * sizeof(float));
    }
    if (!c || !c->k || !c->v) {
        us_gpt2_cache_free(c);
        us_fail(err, US_ERR_OOM, "KV cache: out of memory for %zu floats", 2 * n);
        return NULL;
    }
    c->batch = batch;
    c->max_len = max_len;
    c->L = m->cfg.n_layer;
    c->H = m->cfg.n_head;
    c->hs = m->cfg.n_embd / m->cfg.n_head;
    return c;
}

void us_gpt2_cache_free(us_gpt2_cache *c) {
    if (!c) return;
    free(c->k);
    free(c->v);
    free(c);
}

int32_t us_gpt2_cache_len(const us_gpt2_cache *c) { return c->len; }
void us_gpt2_cache_reset(us_gpt2_cache *c) { c->len = 0; }

/* Rows of layer l, batch row b, head h: [max_len, hs]. */
static float *cache_rows(const us_gpt2_cache *c, float *base, int32_t l, int32_t b, int32_t h) {
    return base + ((((size_t)l * c->batch + b) * c->H + h) * c->max_len) * c->hs;
}

/* ---------------------------------------------------------------- forward */

typedef struct run_ctx {
    us_gpt2 *m;
    us_hook_fn hook;
    void *user;
    us_error *err;
    uint8_t *watched; /* [n_points] */
} run_ctx;

/* Reports point p if watched; a non-zero answer stops the forward. */
static us_status report(run_ctx *r, int32_t p, const us_tensor *in, us_tensor *out) {
    if (!r->watched[p]) return US_OK;
    if (r->hook(r->user, p, US_HOOK_OBSERVE, in, out) != 0)
        return us_fail(r->err, US_ERR_HOOK, "the hook at '%s' stopped the forward", r->m->point_names[p]);
    return US_OK;
}

static float *alloc_f32(run_ctx *r, size_t n) {
    return us_arena_alloc(&r->m->arena, n * sizeof(float) + 16);
}

#define TRY(x)                       \
    do {                             \
        us_status s_ = (x);          \
        if (s_ != US_OK) return s_;  \
    } while (0)

#define T3(t, data, a, b, c) ((t) = us_tensor_make(US_F32, (data), 3, (const int32_t[]){(a), (b), (c)}))
#define T4(t, data, a, b, c, d) ((t) = us_tensor_make(US_F32, (data), 4, (const int32_t[]){(a), (b), (c), (d)}))

static us_status grad_reserve(us_gpt2 *m, us_gpt2_grad *g, int32_t B, int32_t T, us_error *err);

/* The forward behind us_gpt2_forward (st NULL) and us_gpt2_forward_train
 * (st receives every activation the backward needs; no cache). */
/* One layer's attention, as tasks of the pool: task bh = b * H + h runs one
 * step (mode) for batch row b, head h. Tasks write disjoint rows of att and
 * disjoint columns of z, and use their thread's scratch. */
enum { HEADS_FUSED, HEADS_SCORES, HEADS_SOFTMAX_CAUSAL, HEADS_SOFTMAX_ALL, HEADS_PV, HEADS_PV_DENSE };
typedef struct {
    int mode;
    int32_t B, H, T, S, hs, l;
    int split;              /* q, k, v materialised as [B, H, T, hs] (else read from qkv [B, T, 3C]) */
    us_gpt2_cache *cache;   /* keys and values from the cache's rows, or NULL */
    const float *q, *k, *v; /* [B, H, T, hs] when split */
    const float *qkv;       /* c_attn's output [B, T, 3C] */
    float *att;             /* scores / pattern [B, H, T, S] */
    float *z;               /* [B, T, H, hs] */
    float *scratch;         /* per thread: scratch_stride floats each */
    size_t scratch_stride;
} heads_job;

static void heads_task(void *ctx, int32_t bh, int32_t thread) {
    const heads_job *j = ctx;
    const int32_t H = j->H, T = j->T, S = j->S, hs = j->hs, C = H * hs, b = bh / H, h = bh % H;
    float *ph = j->att + (size_t)bh * T * S;
    if (j->mode == HEADS_SOFTMAX_CAUSAL) {
        us_attention_softmax_rows(T, S, ph, S);
        return;
    }
    if (j->mode == HEADS_SOFTMAX_ALL) {
        us_softmax_f32(ph, ph, T, S, 1);
        return;
    }
    /* Where this head's q, k, v rows are and how far apart. */
    const float *qh, *kh, *vh;
    int32_t qs, ks;
    if (j->split) {
        qh = j->q + (size_t)bh * T * hs;
        kh = j->k + (size_t)bh * T * hs;
        vh = j->v + (size_t)bh * T * hs;
        qs = ks = hs;
        if (j->cache) {
            kh = cache_rows(j->cache, j->cache->k, j->l, b, h);
            vh = cache_rows(j->cache, j->cache->v, j->l, b, h);
        }
    } else {
        qh = j->qkv + (size_t)b * T * 3 * C + (size_t)h * hs;
        kh = qh + C;
        vh = qh + 2 * C;
        qs = ks = 3 * C;
    }
    float *zh = j->z + ((size_t)b * T * H + h) * hs;
    float *scratch = j->scratch + (size_t)thread * j->scratch_stride;
    switch (j->mode) {
    case HEADS_FUSED: us_attention_fused(T, S, hs, qh, qs, kh, ks, vh, ks, zh, C, scratch); break;
    case HEADS_SCORES: us_attention_scores(T, S, hs, qh, qs, kh, ks, ph, S, scratch); break;
    case HEADS_PV: us_attention_pv(T, S, hs, ph, S, vh, ks, zh, C); break;
    case HEADS_PV_DENSE: us_attention_pv_dense(T, S, hs, ph, S, vh, ks, zh, C); break;
    default: break;
    }
}

static us_status gpt2_forward(us_gpt2 *m, const us_tensor *ids, us_gpt2_cache *cache, us_gpt2_grad *st,
                              us_tensor *logits, us_hook_fn hook, void *user, us_error *err) {
    if (!m || !ids || !logits) return us_fail(err, US_ERR_INVALID_ARG, "GPT-2 forward: NULL argument");
    const us_gpt2_config *cfg = &m->cfg;
    if (ids->dtype != US_I32 || ids->ndim != 2 || !us_tensor_is_contiguous(ids)) {
        char s[96];
        return us_fail(err, US_ERR_SHAPE, "GPT-2 forward: expected token ids of dtype I32 and shape [B, T], got %s %s",
                       us_dtype_name(ids->dtype), us_shape_str(ids, s, sizeof s));
    }
    const int32_t B = ids->shape[0], T = ids->shape[1];
    const int32_t C = cfg->n_embd, H = cfg->n_head, hs = C / H, F = cfg->n_inner, V = cfg->vocab_size,
                  L = cfg->n_layer;
    const int32_t past = cache ? cache->len : 0, S = past + T;
    if (B <= 0 || T <= 0)
        return us_fail(err, US_ERR_SHAPE, "GPT-2 forward: empty input [%d, %d]", (int)B, (int)T);
    if (S > cfg->n_positions)
        return us_fail(err, US_ERR_RANGE, "GPT-2 forward: %d positions%s exceed n_positions = %d", (int)S,
                       cache ? " (with the cache)" : "", (int)cfg->n_positions);
    if (cache && (cache->batch != B || S > cache->max_len))
        return us_fail(err, US_ERR_SHAPE, "GPT-2 forward: the KV cache holds batch %d and %d positions, got batch %d reaching position %d",
                       (int)cache->batch, (int)cache->max_len, (int)B, (int)S);
    const int32_t *id = ids->data;
    for (int64_t i = 0; i < (int64_t)B * T; i++)
        if (id[i] < 0 || id[i] >= V)
            return us_fail(err, US_ERR_RANGE, "token id %d at [%d, %d] is outside the vocabulary [0, %d)", (int)id[i],
                           (int)(i / T), (int)(i % T), (int)V);
    TRY(ensure_packs(m, err));
    if (st) {
        st->valid = 0;
        TRY(grad_reserve(m, st, B, T, err));
        memcpy(st->ids, id, sizeof(int32_t) * (size_t)B * T);
    }

    us_arena_reset(&m->arena);
    run_ctx r = {m, hook, user, err, NULL};
    r.watched = us_arena_alloc(&m->arena, (size_t)m->n_points);
    const size_t BT = (size_t)B * T;
    /* Residual stream: three buffers rotate through the blocks. */
    float *xa = alloc_f32(&r, BT * C), *xb = alloc_f32(&r, BT * C), *xc = alloc_f32(&r, BT * C);
    float *ln = alloc_f32(&r, BT * C), *qkv = alloc_f32(&r, BT * 3 * C);
    float *q = alloc_f32(&r, BT * C), *k = alloc_f32(&r, BT * C), *v = alloc_f32(&r, BT * C);
    float *att = alloc_f32(&r, (size_t)B * H * T * S), *z = alloc_f32(&r, BT * C);
    float *proj = alloc_f32(&r, BT * C), *hid = alloc_f32(&r, BT * F), *act = alloc_f32(&r, BT * F);
    float *wpe_out = alloc_f32(&r, (size_t)T * C), *lg = alloc_f32(&r, BT * V);
    int32_t *pos = us_arena_alloc(&m->arena, sizeof(int32_t) * (size_t)T);
    /* attention scratch, one per thread of the pool (64-byte strides) */
    const size_t scratch_stride = (us_attention_scratch_floats(S, C / H) + 15u) & ~(size_t)15u;
    float *scratch = alloc_f32(&r, scratch_stride * (size_t)us_threadpool_threads(m->pool) + 16);
    if (!r.watched || !xa || !xb || !xc || !ln || !qkv || !q || !k || !v || !att || !z || !proj || !hid || !act ||
        !wpe_out || !lg || !pos || !scratch)
        return us_fail(err, US_ERR_OOM, "GPT-2 forward: out of memory for activations of [%d, %d]", (int)B, (int)T);
    for (int32_t p = 0; p < m->n_points; p++)
        r.watched[p] = hook && us_gpt2_point_fires(m, p) && hook(user, p, US_HOOK_ASK, NULL, NULL) ? 1 : 0;
    for (int32_t t = 0; t < T; t++) pos[t] = past + t;

    us_tensor t_ids = *ids, t_pos, ta, tb, tc, td;
    t_pos = us_tensor_make(US_I32, pos, 2, (const int32_t[]){1, T});

    /* Embeddings: x = wte[ids] + wpe[pos]. */
    const float *wte = m->params[PARAM_WTE].data, *wpe = m->params[PARAM_WPE].data;
    if (wte) us_embedding_f32(xb, id, (int64_t)BT, wte, V, C);
    else /* packed: wte's rows out of the lm_head's pack */
        for (size_t i = 0; i < BT; i++) us_gemm_weights_read(m->wte_pack, id[i], 1, 0, C, xb + i * C, C);
    T3(ta, xb, B, T, C);
    TRY(report(&r, GP_WTE, &t_ids, &ta));
    us_embedding_f32(wpe_out, pos, T, wpe, cfg->n_positions, C);
    T3(tb, wpe_out, 1, T, C);
    TRY(report(&r, GP_WPE, &t_pos, &tb));
    for (int32_t b = 0; b < B; b++)
        for (size_t i = 0; i < (size_t)T * C; i++) xa[(size_t)b * T * C + i] = xb[(size_t)b * T * C + i] + wpe_out[i];
    T3(ta, xa, B, T, C);
    TRY(report(&r, GP_DROP, &ta, &ta)); /* dropout: identity at inference */

    float *x = xa, *x2 = xb, *x3 = xc; /* block input, after attention, block output */
    if (st) {
        memcpy(st->x_in, xa, sizeof(float) * BT * C);
        x = st->x_in;
    }
    for (int32_t l = 0; l < L; l++) {
        const us_tensor *P = m->params;
        const layer_packs *pk = &m->packs[l];
        us_tensor tx, tln, tqkv, tq, tk, tv, tatt, tz, tzm, tproj;
        if (st) { /* this layer's slices of the saved activations */
            const size_t btc = BT * C, btf = BT * F;
            x = st->x_in + l * btc;
            x2 = st->resid_mid + l * btc;
            x3 = st->x_in + (l + 1) * btc;
            ln = st->ln1 + l * btc;
            q = st->q + l * btc;
            k = st->k + l * btc;
            v = st->v + l * btc;
            att = st->pattern + (size_t)l * B * H * T * T;
            z = st->z + l * btc;
            hid = st->fc + l * btf;
            act = st->act + l * btf;
        }
        T3(tx, x, B, T, C);

        /* ln_1 */
        if (st)
            us_layernorm_forward_stats(ln, st->ln1_mean + l * BT, st->ln1_rstd + l * BT, x, P[PARAM_LAYER(l, LP_LN_1_W)].data,
                                       P[PARAM_LAYER(l, LP_LN_1_B)].data, (int64_t)BT, C, cfg->layer_norm_epsilon);
        else
            us_layernorm_f32(ln, x, P[PARAM_LAYER(l, LP_LN_1_W)].data, P[PARAM_LAYER(l, LP_LN_1_B)].data, (int64_t)BT, C,
                             cfg->layer_norm_epsilon);
        T3(tln, ln, B, T, C);
        TRY(report(&r, BLOCK_POINT(l, BP_LN_1), &tx, &tln));

        /* c_attn */
        us_gemm_f32_parallel(m->pool, (int32_t)BT, ln, C, pk->c_attn, P[PARAM_LAYER(l, LP_C_ATTN_B)].data, qkv, 3 * C);
        T3(tqkv, qkv, B, T, 3 * C);
        TRY(report(&r, BLOCK_POINT(l, BP_C_ATTN), &tln, &tqkv));

        /* What this layer must materialise: q, k, v as [B, H, T, hs] when a
         * hook watches them, a cache stores them or a backward needs them;
         * otherwise the kernels read them in place from c_attn's output. */
        const uint8_t *wp = r.watched + BLOCK_POINT(l, 0);
        const int split = st || cache || wp[BP_Q] || wp[BP_K] || wp[BP_V];
        const int scores_seen = wp[BP_SCORES], pattern_seen = wp[BP_PATTERN] || wp[BP_ATTN_DROPOUT];
        const int materialise = st || scores_seen || pattern_seen;
        if (split) {
            for (int32_t b = 0; b < B; b++)
                for (int32_t t = 0; t < T; t++) {
                    const float *row = qkv + ((size_t)b * T + t) * 3 * C;
                    for (int32_t h = 0; h < H; h++) {
                        size_t dst = (((size_t)b * H + h) * T + t) * hs;
                        memcpy(q + dst, row + h * hs, sizeof(float) * hs);
                        memcpy(k + dst, row + C + h * hs, sizeof(float) * hs);
                        memcpy(v + dst, row + 2 * C + h * hs, sizeof(float) * hs);
                    }
                }
            T4(tq, q, B, H, T, hs);
            T4(tk, k, B, H, T, hs);
            T4(tv, v, B, H, T, hs);
            TRY(report(&r, BLOCK_POINT(l, BP_Q), &tq, &tq));
            TRY(report(&r, BLOCK_POINT(l, BP_K), &tk, &tk));
            TRY(report(&r, BLOCK_POINT(l, BP_V), &tv, &tv));
        }

        /* With a cache the keys and values are the cache's rows plus the new
         * ones, written into its free rows (its length grows only when the
         * whole forward succeeds). */
        if (cache)
            for (int32_t b = 0; b < B; b++)
                for (int32_t h = 0; h < H; h++) {
                    const size_t src = (((size_t)b * H + h) * T) * hs;
                    memcpy(cache_rows(cache, cache->k, l, b, h) + (size_t)past * hs, k + src, sizeof(float) * (size_t)T * hs);
                    memcpy(cache_rows(cache, cache->v, l, b, h) + (size_t)past * hs, v + src, sizeof(float) * (size_t)T * hs);
                }

        /* Attention runs per (batch row, head), B * H tasks over the pool. */
        heads_job hj = {HEADS_FUSED, B, H, T, S, hs, l, split, cache, q, k, v, qkv, att, z, scratch, scratch_stride};
        if (!materialise) {
            /* Nobody looks at scores or pattern: fused attention straight to z. */
            us_parallel_for(m->pool, B * H, heads_task, &hj);
        } else {
            hj.mode = HEADS_SCORES;
            us_parallel_for(m->pool, B * H, heads_task, &hj);
            T4(tatt, att, B, H, T, S);
            TRY(report(&r, BLOCK_POINT(l, BP_SCORES), &tatt, &tatt));
            /* A hook may have written anything into the scores, the masked
             * entries too: then softmax every entry, as PyTorch would. */
            hj.mode = scores_seen ? HEADS_SOFTMAX_ALL : HEADS_SOFTMAX_CAUSAL;
            us_parallel_for(m->pool, B * H, heads_task, &hj);
            TRY(report(&r, BLOCK_POINT(l, BP_PATTERN), &tatt, &tatt));
            TRY(report(&r, BLOCK_POINT(l, BP_ATTN_DROPOUT), &tatt, &tatt));
            /* z [B, T, H, hs] = pattern · values: over every key when a hook
             * may have edited the pattern (masked entries included, as
             * PyTorch's matmul), else only the causal part. */
            hj.mode = pattern_seen ? HEADS_PV_DENSE : HEADS_PV;
            us_parallel_for(m->pool, B * H, heads_task, &hj);
        }
        T4(tz, z, B, T, H, hs);
        TRY(report(&r, BLOCK_POINT(l, BP_Z), &tz, &tz));

        /* c_proj over the merged heads, resid_dropout, and the attention module */
        T3(tzm, z, B, T, C);
        us_gemm_f32_parallel(m->pool, (int32_t)BT, z, C, pk->attn_c_proj, P[PARAM_LAYER(l, LP_ATTN_C_PROJ_B)].data, proj, C);
        T3(tproj, proj, B, T, C);
        TRY(report(&r, BLOCK_POINT(l, BP_ATTN_C_PROJ), &tzm, &tproj));
        TRY(report(&r, BLOCK_POINT(l, BP_RESID_DROPOUT), &tproj, &tproj));
        TRY(report(&r, BLOCK_POINT(l, BP_ATTN), &tln, &tproj));

        /* resid_mid = x + attn */
        for (size_t i = 0; i < BT * C; i++) x2[i] = x[i] + proj[i];
        T3(ta, x2, B, T, C);
        TRY(report(&r, BLOCK_POINT(l, BP_RESID_MID), &ta, &ta));

        /* ln_2, mlp */
        if (st) {
            ln = st->ln2 + l * BT * C;
            us_layernorm_forward_stats(ln, st->ln2_mean + l * BT, st->ln2_rstd + l * BT, x2, P[PARAM_LAYER(l, LP_LN_2_W)].data,
                                       P[PARAM_LAYER(l, LP_LN_2_B)].data, (int64_t)BT, C, cfg->layer_norm_epsilon);
        } else {
            us_layernorm_f32(ln, x2, P[PARAM_LAYER(l, LP_LN_2_W)].data, P[PARAM_LAYER(l, LP_LN_2_B)].data, (int64_t)BT, C,
                             cfg->layer_norm_epsilon);
        }
        T3(tln, ln, B, T, C);
        TRY(report(&r, BLOCK_POINT(l, BP_LN_2), &ta, &tln));
        us_gemm_f32_parallel(m->pool, (int32_t)BT, ln, C, pk->c_fc, P[PARAM_LAYER(l, LP_C_FC_B)].data, hid, F);
        T3(tb, hid, B, T, F);
        TRY(report(&r, BLOCK_POINT(l, BP_C_FC), &tln, &tb));
        us_gelu_tanh(m->pool, act, hid, (int64_t)BT * F);
        T3(tc, act, B, T, F);
        TRY(report(&r, BLOCK_POINT(l, BP_ACT), &tb, &tc));
        us_gemm_f32_parallel(m->pool, (int32_t)BT, act, F, pk->mlp_c_proj, P[PARAM_LAYER(l, LP_MLP_C_PROJ_B)].data, proj, C);
        T3(td, proj, B, T, C);
        TRY(report(&r, BLOCK_POINT(l, BP_MLP_C_PROJ), &tc, &td));
        TRY(report(&r, BLOCK_POINT(l, BP_MLP_DROPOUT), &td, &td));
        TRY(report(&r, BLOCK_POINT(l, BP_MLP), &tln, &td));

        /* block output = resid_mid + mlp */
        for (size_t i = 0; i < BT * C; i++) x3[i] = x2[i] + proj[i];
        T3(tb, x3, B, T, C);
        TRY(report(&r, BLOCK_POINT(l, BP_BLOCK), &tx, &tb));

        float *old = x; /* rotate: the output is the next input */
        x = x3;
        x3 = old;
    }

    /* ln_f, the transformer's output, and the tied lm_head */
    if (st) {
        ln = st->lnf;
        lg = st->logits;
        us_layernorm_forward_stats(ln, st->lnf_mean, st->lnf_rstd, x, m->params[PARAM_LN_F_W(L)].data,
                                   m->params[PARAM_LN_F_B(L)].data, (int64_t)BT, C, cfg->layer_norm_epsilon);
    } else {
        us_layernorm_f32(ln, x, m->params[PARAM_LN_F_W(L)].data, m->params[PARAM_LN_F_B(L)].data, (int64_t)BT, C,
                         cfg->layer_norm_epsilon);
    }
    T3(ta, x, B, T, C);
    T3(tb, ln, B, T, C);
    TRY(report(&r, GP_LN_F(L), &ta, &tb));
    TRY(report(&r, GP_TRANSFORMER, &t_ids, &tb));
    us_gemm_f32_parallel(m->pool, (int32_t)BT, ln, C, m->wte_pack, NULL, lg, V);
    T3(tc, lg, B, T, V);
    TRY(report(&r, GP_LM_HEAD(L), &tb, &tc));
    *logits = tc;
    if (cache) cache->len = S;
    if (st) {
        st->B = B;
        st->T = T;
        st->valid = 1;
    }
    return US_OK;
}

us_status us_gpt2_forward(us_gpt2 *m, const us_tensor *ids, us_gpt2_cache *cache, us_tensor *logits,
                          us_hook_fn hook, void *user, us_error *err) {
    return gpt2_forward(m, ids, cache, NULL, logits, hook, user, err);
}

us_status us_gpt2_unembed(us_gpt2 *m, const float *x, int32_t n, float *out, int apply_ln_f, us_error *err) {
    if (!m || (!x && n) || (!out && n) || n < 0) return us_fail(err, US_ERR_INVALID_ARG, "unembed: bad arguments");
    if (n == 0) return US_OK;
    us_status s = ensure_packs(m, err);
    if (s != US_OK) return s;
    const int32_t C = m->cfg.n_embd, L = m->cfg.n_layer;
    const float *src = x;
    float *tmp = NULL;
    if (apply_ln_f) {
        tmp = malloc(sizeof(float) * (size_t)n * C);
        if (!tmp) return us_fail(err, US_ERR_OOM, "unembed: out of memory for %d rows", (int)n);
        us_layernorm_f32(tmp, x, m->params[PARAM_LN_F_W(L)].data, m->params[PARAM_LN_F_B(L)].data, n, C,
                         m->cfg.layer_norm_epsilon);
        src = tmp;
    }
    us_gemm_f32_parallel(m->pool, n, src, C, m->wte_pack, NULL, out, m->cfg.vocab_size);
    free(tmp);
    return US_OK;
}

/* ---------------------------------------------------------------- training */

us_gpt2_grad *us_gpt2_grad_new(const us_gpt2 *m, us_error *err) {
    us_gpt2_grad *g = calloc(1, sizeof *g);
    if (g) g->dparams = calloc(m->n_storage, sizeof(float));
    if (!g || !g->dparams) {
        us_gpt2_grad_free(g);
        us_fail(err, US_ERR_OOM, "gradients: out of memory for %zu floats", m->n_storage);
        return NULL;
    }
    g->n_floats = m->n_storage;
    return g;
}

void us_gpt2_grad_free(us_gpt2_grad *g) {
    if (!g) return;
    free(g->dparams);
    free(g->acts);
    free(g->ids);
    free(g);
}

void us_gpt2_grad_zero(us_gpt2_grad *g) { memset(g->dparams, 0, g->n_floats * sizeof(float)); }

float *us_gpt2_grad_param(us_gpt2_grad *g, const us_gpt2 *m, int32_t i) {
    if (i < 0 || i >= m->n_params) return NULL;
    return g->dparams + m->offset[i];
}

float *us_gpt2_grad_all(us_gpt2_grad *g, size_t *n) {
    if (n) *n = g->n_floats;
    return g->dparams;
}

float *us_gpt2_params_all(us_gpt2 *m, size_t *n) {
    if (n) *n = m->n_storage;
    return m->plain ? m->storage : NULL;
}

/* Makes room in g for the activations of a [B, T] training forward. */
static us_status grad_reserve(us_gpt2 *m, us_gpt2_grad *g, int32_t B, int32_t T, us_error *err) {
    const size_t L = (size_t)m->cfg.n_layer, C = (size_t)m->cfg.n_embd, F = (size_t)m->cfg.n_inner;
    const size_t H = (size_t)m->cfg.n_head, V = (size_t)m->cfg.vocab_size, BT = (size_t)B * T;
    const size_t sizes[] = {
        (L + 1) * BT * C,                 /* x_in */
        L * BT * C, L * BT, L * BT,       /* ln1, mean, rstd */
        L * BT * C, L * BT * C, L * BT * C, /* q, k, v */
        L * B * H * (size_t)T * T,        /* pattern */
        L * BT * C, L * BT * C,           /* z, resid_mid */
        L * BT * C, L * BT, L * BT,       /* ln2, mean, rstd */
        L * BT * F, L * BT * F,           /* fc, act */
        BT * C, BT, BT,                   /* lnf, mean, rstd */
        BT * V,                           /* logits */
    };
    size_t need = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) need += (sizes[i] + 3) & ~(size_t)3;
    if (need > g->acts_cap || BT > (size_t)g->B * g->T) {
        free(g->acts);
        free(g->ids);
        g->acts = malloc(need * sizeof(float));
        g->ids = malloc(BT * sizeof(int32_t));
        g->acts_cap = g->acts ? need : 0;
        if (!g->acts || !g->ids) {
            g->acts_cap = 0;
            return us_fail(err, US_ERR_OOM, "training forward: out of memory for the saved activations of [%d, %d] (%zu floats)",
                           (int)B, (int)T, need);
        }
    }
    float **slots[] = {&g->x_in, &g->ln1, &g->ln1_mean, &g->ln1_rstd, &g->q, &g->k, &g->v, &g->pattern, &g->z,
                       &g->resid_mid, &g->ln2, &g->ln2_mean, &g->ln2_rstd, &g->fc, &g->act, &g->lnf, &g->lnf_mean,
                       &g->lnf_rstd, &g->logits};
    float *at = g->acts;
    for (size_t i = 0; i < sizeof slots / sizeof slots[0]; i++) {
        *slots[i] = at;
        at += (sizes[i] + 3) & ~(size_t)3;
    }
    g->B = B;
    g->T = T;
    return US_OK;
}

us_status us_gpt2_forward_train(us_gpt2 *m, const us_tensor *ids, us_gpt2_grad *g, us_tensor *logits,
                                us_hook_fn hook, void *user, us_error *err) {
    if (!g) return us_fail(err, US_ERR_INVALID_ARG, "training forward: NULL gradient store");
    return gpt2_forward(m, ids, NULL, g, logits, hook, user, err);
}

us_status us_gpt2_loss(us_gpt2_grad *g, const us_gpt2 *m, const int32_t *labels, float *loss, int32_t *n_scored,
                       float *dlogits, us_error *err) {
    if (!g->valid) return us_fail(err, US_ERR_INVALID_ARG, "loss: run a training forward (grad: true) first");
    const int32_t B = g->B, T = g->T, V = m->cfg.vocab_size;
    int32_t *targets = malloc(sizeof(int32_t) * (size_t)B * T);
    if (!targets) return us_fail(err, US_ERR_OOM, "loss: out of memory");
    for (int32_t b = 0; b < B; b++)
        for (int32_t t = 0; t < T; t++) {
            int32_t y = t + 1 < T ? labels[b * T + t + 1] : -100;
            if (y != -100 && (y < 0 || y >= V)) {
                free(targets);
                return us_fail(err, US_ERR_RANGE, "labels: %d at [%d, %d] is outside the vocabulary [0, %d) (use -100 to ignore a position)",
                               (int)y, (int)b, (int)(t + 1), (int)V);
            }
            targets[b * T + t] = y;
        }
    us_status st = us_crossentropy_forward_backward(NULL, dlogits, g->logits, targets, B * T, V, loss, n_scored);
    free(targets);
    return st == US_OK ? US_OK : us_fail(err, st, "loss: the cross-entropy failed (%s)", us_status_name(st));
}

/* Reports the gradient at point p if watched (in may be NULL). */
static us_status report_grad(run_ctx *r, int32_t p, us_tensor *in, us_tensor *out) {
    if (!r->watched[p]) return US_OK;
    if (r->hook(r->user, p, US_HOOK_GRAD_OBSERVE, in, out) != 0)
        return us_fail(r->err, US_ERR_HOOK, "the backward hook at '%s' stopped the backward", r->m->point_names[p]);
    return US_OK;
}

/* us_matmul_backward with parameter i as the weight: its plain copy, or its
 * pack in a packed model (the same values: the same gradients, bit for bit,
 * for f32 packs). */
static us_status matmul_backward_param(us_gpt2 *m, int32_t i, float *dinp, float *dweight, float *dbias,
                                       const float *dout, const float *inp, int32_t M, int32_t K, int32_t N,
                                       us_weight_layout layout) {
    if (m->plain) return us_matmul_backward(dinp, dweight, dbias, dout, inp, m->params[i].data, M, K, N, layout);
    return us_matmul_backward_packed(dinp, dweight, dbias, dout, inp, *pack_slot(m, i), M, layout);
}

static void add_into(float *dst, const float *src, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] += src[i];
}

us_status us_gpt2_backward(us_gpt2 *m, us_gpt2_grad *g, const float *dlogits_in, us_hook_fn hook, void *user,
                           us_error *err) {
    if (!m || !g || !dlogits_in) return us_fail(err, US_ERR_INVALID_ARG, "backward: NULL argument");
    if (!g->valid) return us_fail(err, US_ERR_INVALID_ARG, "backward: run a training forward (grad: true) first");
    const us_gpt2_config *cfg = &m->cfg;
    const int32_t B = g->B, T = g->T, C = cfg->n_embd, H = cfg->n_head, hs = C / H, F = cfg->n_inner,
                  V = cfg->vocab_size, L = cfg->n_layer;
    const size_t BT = (size_t)B * T, btc = BT * C, btf = BT * F;
    const float scale = (float)sqrt((double)hs);

    us_arena_reset(&m->arena);
    run_ctx r = {m, hook, user, err, NULL};
    r.watched = us_arena_alloc(&m->arena, (size_t)m->n_points);
    float *dlg = alloc_f32(&r, BT * V), *dlnf = alloc_f32(&r, btc), *dres = alloc_f32(&r, btc);
    float *dblk = alloc_f32(&r, btc), *dmlp = alloc_f32(&r, btc), *dln = alloc_f32(&r, btc), *dtmp = alloc_f32(&r, btc);
    float *dattn = alloc_f32(&r, btc), *dz = alloc_f32(&r, btc), *dqkv = alloc_f32(&r, BT * 3 * C);
    float *dq = alloc_f32(&r, btc), *dk = alloc_f32(&r, btc), *dv = alloc_f32(&r, btc);
    float *dpat = alloc_f32(&r, (size_t)B * H * T * T), *dfc = alloc_f32(&r, btf), *dact = alloc_f32(&r, btf);
    float *dpos = alloc_f32(&r, (size_t)T * C);
    int32_t *pos = us_arena_alloc(&m->arena, sizeof(int32_t) * (size_t)T);
    if (!r.watched || !dlg || !dlnf || !dres || !dblk || !dmlp || !dln || !dtmp || !dattn || !dz || !dqkv || !dq || !dk ||
        !dv || !dpat || !dfc || !dact || !dpos || !pos)
        return us_fail(err, US_ERR_OOM, "backward: out of memory for the gradients of [%d, %d]", (int)B, (int)T);
    for (int32_t p = 0; p < m->n_points; p++)
        r.watched[p] = hook && us_gpt2_point_fires(m, p) && hook(user, p, US_HOOK_GRAD_ASK, NULL, NULL) ? 1 : 0;
    memcpy(dlg, dlogits_in, sizeof(float) * BT * V);
    const us_tensor *P = m->params;
#define DP(i) us_gpt2_grad_param(g, m, (i))
    us_tensor ta, tb;

    /* lm_head (tied to wte): logits = ln_f(x) · wteᵀ */
    memset(dlnf, 0, sizeof(float) * btc);
    TRY(matmul_backward_param(m, PARAM_WTE, dlnf, DP(PARAM_WTE), NULL, dlg, g->lnf, (int32_t)BT, C, V, US_W_NK));
    T3(ta, dlnf, B, T, C);
    T3(tb, dlg, B, T, V);
    TRY(report_grad(&r, GP_LM_HEAD(L), &ta, &tb));
    TRY(report_grad(&r, GP_TRANSFORMER, NULL, &ta));
    memset(dres, 0, sizeof(float) * btc);
    us_layernorm_backward(dres, DP(PARAM_LN_F_W(L)), DP(PARAM_LN_F_B(L)), dlnf, g->x_in + (size_t)L * btc,
                          P[PARAM_LN_F_W(L)].data, g->lnf_mean, g->lnf_rstd, (int64_t)BT, C);
    T3(tb, dres, B, T, C);
    TRY(report_grad(&r, GP_LN_F(L), &tb, &ta));

    for (int32_t l = L - 1; l >= 0; l--) {
        const float *x = g->x_in + l * btc, *rmid = g->resid_mid + l * btc;
        const float *ln1 = g->ln1 + l * btc, *ln2 = g->ln2 + l * btc, *fc = g->fc + l * btf, *act = g->act + l * btf;
        const float *q = g->q + l * btc, *k = g->k + l * btc, *v = g->v + l * btc, *z = g->z + l * btc;
        const float *pat = g->pattern + (size_t)l * B * H * T * T;
        us_tensor tin, tout;
        memcpy(dblk, dres, sizeof(float) * btc); /* the block output's gradient, for its hook */

        /* MLP branch: block out = resid_mid + mlp(ln_2(resid_mid)) */
        memcpy(dmlp, dres, sizeof(float) * btc);
        T3(tout, dmlp, B, T, C);
        TRY(report_grad(&r, BLOCK_POINT(l, BP_MLP_DROPOUT), &tout, &tout));
        memset(dact, 0, sizeof(float) * btf);
        TRY(matmul_backward_param(m, PARAM_LAYER(l, LP_MLP_C_PROJ_W), dact, DP(PARAM_LAYER(l, LP_MLP_C_PROJ_W)),
                                  DP(PARAM_LAYER(l, LP_MLP_C_PROJ_B)), dmlp, act, (int32_t)BT, F, C, US_W_KN));
        T3(tin, dact, B, T, F);
        TRY(report_grad(&r, BLOCK_POINT(l, BP_MLP_C_PROJ), &tin, &tout));
        memset(dfc, 0, sizeof(float) * btf);
        us_gelu_tanh_backward(dfc, fc, dact, (int64_t)btf);
        T3(ta, dfc, B, T, F);
        TRY(report_grad(&r, BLOCK_POINT(l, BP_ACT), &ta, &tin));
        memset(dln, 0, sizeof(float) * btc);
        TRY(matmul_backward_param(m, PARAM_LAYER(l, LP_C_FC_W), dln, DP(PARAM_LAYER(l, LP_C_FC_W)),
                                  DP(PARAM_LAYER(l, LP_C_FC_B)), dfc, ln2, (int32_t)BT, C, F, US_W_KN));
        T3(tin, dln, B, T, C);
        TRY(report_grad(&r, BLOCK_POINT(l, BP_C_FC), &tin, &ta));
        TRY(report_grad(&r, BLOCK_POINT(l, BP_MLP), &tin, &tout));
        memset(dtmp, 0, sizeof(float) * btc);
        us_layernorm_backward(dtmp, DP(PARAM_LAYER(l, LP_LN_2_W)), DP(PARAM_LAYER(l, LP_LN_2_B)), dln, rmid,
                              P[PARAM_LAYER(l, LP_LN_2_W)].data, g->ln2_mean + l * BT, g->ln2_rstd + l * BT, (int64_t)BT, C);
        T3(ta, dtmp, B, T, C);
        TRY(report_grad(&r, BLOCK_POINT(l, BP_LN_2), &ta, &tin));
        add_into(dres, dtmp, btc); /* dres = d resid_mid */
        T3(ta, dres, B, T, C);
        TRY(report_grad(&r, BLOCK_POINT(l, BP_RESID_MID), &ta, &ta));

        /* attention branch: resid_mid = x + attn(ln_1(x)) */
        memcpy(dattn, dres, sizeof(float) * btc);
        T3(tout, dattn, B, T, C);
        TRY(report_grad(&r, BLOCK_POINT(l, BP_RESID_DROPOUT), &tout, &tout));
        memset(dz, 0, sizeof(float) * btc);
        TRY(matmul_backward_param(m, PARAM_LAYER(l, LP_ATTN_C_PROJ_W), dz, DP(PARAM_LAYER(l, LP_ATTN_C_PROJ_W)),
                                  DP(PARAM_LAYER(l, LP_ATTN_C_PROJ_B)), dattn, z, (int32_t)BT, C, C, US_W_KN));
        T3(tin, dz, B, T, C);
        TRY(report_grad(&r, BLOCK_POINT(l, BP_ATTN_C_PROJ), &tin, &tout));
        T4(ta, dz, B, T, H, hs);
        TRY(report_grad(&r, BLOCK_POINT(l, BP_Z), &ta, &ta));

        /* z[b, t, h] = Σ_s pattern[b, h, t, s] v[b, h, s]: dpattern and dv */
        for (int32_t b = 0; b < B; b++)
            for (int32_t h = 0; h < H; h++) {
                const float *pbh = pat + ((size_t)b * H + h) * T * T, *vbh = v + ((size_t)b * H + h) * T * hs;
                float *dpbh = dpat + ((size_t)b * H + h) * T * T, *dvbh = dv + ((size_t)b * H + h) * T * hs;
                memset(dvbh, 0, sizeof(float) * (size_t)T * hs);
                for (int32_t t = 0; t < T; t++) {
                    const float *dzt = dz + ((size_t)b * T + t) * C + (size_t)h * hs;
                    /* dpattern is dense, as PyTorch's: z sums over every key,
                     * the masked ones (pattern 0) included. */
                    for (int32_t s2 = 0; s2 < T; s2++) {
                        const float *vs = vbh + (size_t)s2 * hs;
                        float acc = 0.0f;
                        for (int32_t d = 0; d < hs; d++) acc += dzt[d] * vs[d];
                        dpbh[(size_t)t * T + s2] = acc;
                        if (s2 > t) continue;
                        const float p = pbh[(size_t)t * T + s2];
                        float *dvs = dvbh + (size_t)s2 * hs;
                        for (int32_t d = 0; d < hs; d++) dvs[d] += p * dzt[d];
                    }
                }
            }
        T4(ta, dpat, B, H, T, T);
        TRY(report_grad(&r, BLOCK_POINT(l, BP_ATTN_DROPOUT), &ta, &ta));
        TRY(report_grad(&r, BLOCK_POINT(l, BP_PATTERN), &ta, &ta));
        /* softmax backward, in place: dscores = p ⊙ (dp − Σ p·dp) */
        for (size_t row = 0; row < (size_t)B * H * T; row++) {
            const float *p = pat + row * T;
            float *d = dpat + row * T;
            float dot = 0.0f;
            for (int32_t s2 = 0; s2 < T; s2++) dot += p[s2] * d[s2];
            for (int32_t s2 = 0; s2 < T; s2++) d[s2] = p[s2] * (d[s2] - dot);
        }
        TRY(report_grad(&r, BLOCK_POINT(l, BP_SCORES), &ta, &ta));
        /* scores = q · kᵀ / sqrt(hs) */
        memset(dq, 0, sizeof(float) * btc);
        memset(dk, 0, sizeof(float) * btc);
        for (int32_t b = 0; b < B; b++)
            for (int32_t h = 0; h < H; h++) {
                const size_t o = ((size_t)b * H + h) * T;
                for (int32_t t = 0; t < T; t++) {
                    const float *ds = dpat + (o + t) * T;
                    const float *qt = q + (o + t) * hs;
                    float *dqt = dq + (o + t) * hs;
                    for (int32_t s2 = 0; s2 <= t; s2++) {
                        const float w = ds[s2] / scale;
                        if (w == 0.0f) continue;
                        const float *ks = k + (o + s2) * hs;
                        float *dks = dk + (o + s2) * hs;
                        for (int32_t d = 0; d < hs; d++) {
                            dqt[d] += w * ks[d];
                            dks[d] += w * qt[d];
                        }
                    }
                }
            }
        T4(ta, dq, B, H, T, hs);
        TRY(report_grad(&r, BLOCK_POINT(l, BP_Q), &ta, &ta));
        T4(ta, dk, B, H, T, hs);
        TRY(report_grad(&r, BLOCK_POINT(l, BP_K), &ta, &ta));
        T4(ta, dv, B, H, T, hs);
        TRY(report_grad(&r, BLOCK_POINT(l, BP_V), &ta, &ta));
        /* merge the heads back into c_attn's output layout [BT, 3C] */
        for (int32_t b = 0; b < B; b++)
            for (int32_t t = 0; t < T; t++) {
                float *row = dqkv + ((size_t)b * T + t) * 3 * C;
                for (int32_t h = 0; h < H; h++) {
                    const size_t src = (((size_t)b * H + h) * T + t) * hs;
                    memcpy(row + h * hs, dq + src, sizeof(float) * hs);
                    memcpy(row + C + h * hs, dk + src, sizeof(float) * hs);
                    memcpy(row + 2 * C + h * hs, dv + src, sizeof(float) * hs);
                }
            }
        memset(dln, 0, sizeof(float) * btc);
        TRY(matmul_backward_param(m, PARAM_LAYER(l, LP_C_ATTN_W), dln, DP(PARAM_LAYER(l, LP_C_ATTN_W)),
                                  DP(PARAM_LAYER(l, LP_C_ATTN_B)), dqkv, ln1, (int32_t)BT, C, 3 * C, US_W_KN));
        T3(tin, dln, B, T, C);
        T3(ta, dqkv, B, T, 3 * C);
        TRY(report_grad(&r, BLOCK_POINT(l, BP_C_ATTN), &tin, &ta));
        TRY(report_grad(&r, BLOCK_POINT(l, BP_ATTN), &tin, &tout));
        memset(dtmp, 0, sizeof(float) * btc);
        us_layernorm_backward(dtmp, DP(PARAM_LAYER(l, LP_LN_1_W)), DP(PARAM_LAYER(l, LP_LN_1_B)), dln, x,
                              P[PARAM_LAYER(l, LP_LN_1_W)].data, g->ln1_mean + l * BT, g->ln1_rstd + l * BT, (int64_t)BT, C);
        T3(ta, dtmp, B, T, C);
        TRY(report_grad(&r, BLOCK_POINT(l, BP_LN_1), &ta, &tin));
        add_into(dres, dtmp, btc); /* dres = d block input */
        T3(ta, dres, B, T, C);
        T3(tb, dblk, B, T, C);
        TRY(report_grad(&r, BLOCK_POINT(l, BP_BLOCK), &ta, &tb));
    }

    /* embeddings: x0 = wte[ids] + wpe[pos] */
    T3(ta, dres, B, T, C);
    TRY(report_grad(&r, GP_DROP, &ta, &ta));
    us_embedding_backward(DP(PARAM_WTE), g->ids, (int64_t)BT, dres, C);
    memset(dpos, 0, sizeof(float) * (size_t)T * C);
    for (int32_t b = 0; b < B; b++) add_into(dpos, dres + (size_t)b * T * C, (size_t)T * C);
    for (int32_t t = 0; t < T; t++) pos[t] = t;
    us_embedding_backward(DP(PARAM_WPE), pos, T, dpos, C);
    TRY(report_grad(&r, GP_WTE, NULL, &ta));
    T3(tb, dpos, 1, T, C);
    TRY(report_grad(&r, GP_WPE, NULL, &tb));
#undef DP
    return US_OK;
}
