/* hf_config.c — reads a HuggingFace GPT-2 config.json (us_gpt2_config_parse).
 *
 * The rules are those of web/gpt2.js parseConfig, so that C and JS accept the
 * same files and say the same things about the others:
 *   - the text is one strict JSON object (json.h); a key given twice keeps its
 *     last value, as JSON.parse does;
 *   - model_type, when present (even as null), is "gpt2"; without it,
 *     architectures is an array holding a string that starts with "GPT2";
 *   - a missing key takes GPT2Config's default (vocab_size 50257, n_positions
 *     1024, n_embd 768, n_layer 12, n_head 12, n_inner null,
 *     layer_norm_epsilon 1e-5, activation_function "gelu_new",
 *     scale_attn_weights true, scale_attn_by_inverse_layer_idx false,
 *     add_cross_attention false); a key present as null does not, as with
 *     JavaScript's `{ ...defaults, ...raw }`;
 *   - the five sizes are positive integers as JavaScript numbers see them
 *     (768.0 and 7.68e2 are 768) and, since C keeps them in int32, below 2^31;
 *   - n_inner is null (kept as 0) or such an integer;
 *   - n_embd is divisible by n_head;
 *   - activation_function is "gelu_new" or "gelu_pytorch_tanh";
 *   - layer_norm_epsilon is a number >= 0 (rounded to float; beyond float's
 *     range it becomes infinity, as a JS number passed to an f32 does);
 *   - scale_attn_weights is true; scale_attn_by_inverse_layer_idx and
 *     add_cross_attention are falsy in JavaScript's sense (absent, null,
 *     false, 0 or "").
 * The checks run in parseConfig's order and the first failure is reported,
 * as "config.json: <key> ..., got <value as written>". */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/json.h"
#include "unseal.h"

/* Nesting allowed in config.json (task_specific_params nests a few levels). */
#define US_HF_MAX_DEPTH 64
#define US_HF_SHOW 96

/* The last member called `name` of the object obj (JSON.parse keeps the last
 * of duplicate keys), or NULL. */
static const us_json *us_hf_member(const us_json *obj, const char *name) {
    size_t nl = strlen(name);
    for (size_t i = obj->n; i-- > 0;)
        if (obj->keys[i].str_len == nl && memcmp(obj->keys[i].str, name, nl) == 0) return &obj->items[i];
    return NULL;
}

static int us_hf_is_str(const us_json *v, const char *s) {
    size_t n = strlen(s);
    return v && v->kind == US_JSON_STRING && v->str_len == n && memcmp(v->str, s, n) == 0;
}

/* A value as JavaScript's `${v}` would print a string: its text, bounded,
 * control characters as '?'. Other values as written. */
static const char *us_hf_show_text(const us_json *v, char *buf, size_t cap) {
    if (v->kind != US_JSON_STRING) return us_json_show(v, buf, cap);
    size_t o = 0;
    for (size_t i = 0; i < v->str_len; i++) {
        unsigned char c = (unsigned char)v->str[i];
        if (o + 1 > cap - 4) {
            while (o > 0 && ((unsigned char)buf[o - 1] & 0xc0) == 0x80) o--;
            if (o > 0 && (unsigned char)buf[o - 1] >= 0xc0) o--;
            memcpy(buf + o, "...", 3);
            o += 3;
            break;
        }
        buf[o++] = (char)(c < 0x20 || c == 0x7f ? '?' : c);
    }
    buf[o] = '\0';
    return buf;
}

/* The value of a NUMBER as a double, correctly rounded as JavaScript reads
 * it (overflow gives +-infinity, underflow 0). Returns 0 when out of memory. */
static int us_hf_number(const us_json *v, double *out) {
    size_t n = v->end - v->start;
    char small[64], *tok = n < sizeof small ? small : malloc(n + 1);
    if (!tok) return 0;
    memcpy(tok, v->raw, n); /* the token is not NUL-terminated in the text */
    tok[n] = '\0';
    *out = strtod(tok, NULL);
    if (tok != small) free(tok);
    return 1;
}

/* JavaScript's truthiness of a JSON value. */
static int us_hf_truthy(const us_json *v, int *oom) {
    if (!v) return 0;
    switch (v->kind) {
    case US_JSON_NULL:
    case US_JSON_FALSE: return 0;
    case US_JSON_STRING: return v->str_len > 0;
    case US_JSON_NUMBER: {
        double d = 0;
        if (!us_hf_number(v, &d)) *oom = 1;
        return d != 0;
    }
    default: return 1; /* true, and every array or object, even empty */
    }
}

/* Reads a positive integer below 2^31 (nullable: null gives 0) into *out.
 * Returns US_OK or fails with parseConfig's message. */
static us_status us_hf_size(const us_json *root, const char *key, int32_t dflt, int nullable, int32_t *out,
                            us_error *err) {
    const us_json *v = us_hf_member(root, key);
    if (!v) {
        *out = dflt;
        return US_OK;
    }
    if (nullable && v->kind == US_JSON_NULL) {
        *out = 0;
        return US_OK;
    }
    double d = 0;
    if (v->kind == US_JSON_NUMBER && !us_hf_number(v, &d))
        return us_fail(err, US_ERR_OOM, "config.json: out of memory reading %s", key);
    char shown[US_HF_SHOW];
    us_json_show(v, shown, sizeof shown);
    /* Number.isInteger(d) && d > 0 */
    if (v->kind != US_JSON_NUMBER || !isfinite(d) || d != floor(d) || !(d > 0))
        return us_fail(err, US_ERR_FORMAT, "config.json: %s must be %sa positive integer, got %s", key,
                       nullable ? "null or " : "", shown);
    if (d > (double)INT32_MAX)
        return us_fail(err, US_ERR_FORMAT, "config.json: %s must be %sa positive integer below 2^31, got %s", key,
                       nullable ? "null or " : "", shown);
    *out = (int32_t)d;
    return US_OK;
}

us_status us_gpt2_config_parse(const char *json, size_t len, us_gpt2_config *out, us_error *err) {
    if (!out) return us_fail(err, US_ERR_INVALID_ARG, "us_gpt2_config_parse: out is NULL");
    memset(out, 0, sizeof *out);
    if (!json && len) return us_fail(err, US_ERR_INVALID_ARG, "us_gpt2_config_parse: NULL text with a length");
    us_json root;
    us_json_error je = {0, "?"};
    us_status s = us_json_parse(json, len, US_HF_MAX_DEPTH, &root, &je);
    if (s == US_ERR_OOM) return us_fail(err, s, "config.json: out of memory parsing %zu bytes", len);
    if (s != US_OK)
        return us_fail(err, US_ERR_FORMAT, "config.json: invalid JSON at byte %zu: %s", je.offset, je.what);
    char shown[US_HF_SHOW];
    us_gpt2_config cfg = {0};
    int oom = 0;
    if (root.kind != US_JSON_OBJECT) {
        s = us_fail(err, US_ERR_FORMAT, "config.json: expected a JSON object");
        goto done;
    }

    /* The family. */
    const us_json *model_type = us_hf_member(&root, "model_type");
    const us_json *arch = us_hf_member(&root, "architectures");
    if (model_type && !us_hf_is_str(model_type, "gpt2")) {
        s = us_fail(err, US_ERR_FORMAT,
                    "config.json: model_type '%s' is not supported; unseal-wasm runs GPT-2-family models "
                    "(model_type 'gpt2', architectures ['GPT2LMHeadModel'])",
                    us_hf_show_text(model_type, shown, sizeof shown));
        goto done;
    }
    if (!model_type) {
        int gpt2 = 0;
        for (size_t i = 0; arch && arch->kind == US_JSON_ARRAY && i < arch->n && !gpt2; i++)
            gpt2 = arch->items[i].kind == US_JSON_STRING && arch->items[i].str_len >= 4 &&
                   memcmp(arch->items[i].str, "GPT2", 4) == 0;
        if (!gpt2) {
            s = us_fail(err, US_ERR_FORMAT,
                        "config.json: no model_type and no GPT2 architecture (got %s); unseal-wasm runs "
                        "GPT-2-family models",
                        arch && arch->kind != US_JSON_NULL ? us_json_show(arch, shown, sizeof shown) : "[]");
            goto done;
        }
    }

    /* Sizes. */
    static const struct { const char *key; int32_t dflt; size_t at; } sizes[] = {
        {"vocab_size", 50257, offsetof(us_gpt2_config, vocab_size)},
        {"n_positions", 1024, offsetof(us_gpt2_config, n_positions)},
        {"n_embd", 768, offsetof(us_gpt2_config, n_embd)},
        {"n_layer", 12, offsetof(us_gpt2_config, n_layer)},
        {"n_head", 12, offsetof(us_gpt2_config, n_head)},
    };
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        s = us_hf_size(&root, sizes[k].key, sizes[k].dflt, 0, (int32_t *)((char *)&cfg + sizes[k].at), err);
        if (s != US_OK) goto done;
    }
    s = us_hf_size(&root, "n_inner", 0, 1, &cfg.n_inner, err);
    if (s != US_OK) goto done;
    if (cfg.n_embd % cfg.n_head != 0) {
        s = us_fail(err, US_ERR_FORMAT, "config.json: n_embd (%d) must be divisible by n_head (%d)", cfg.n_embd,
                    cfg.n_head);
        goto done;
    }

    /* The rest of the architecture. */
    const us_json *act = us_hf_member(&root, "activation_function");
    if (act && !us_hf_is_str(act, "gelu_new") && !us_hf_is_str(act, "gelu_pytorch_tanh")) {
        s = us_fail(err, US_ERR_FORMAT,
                    "config.json: activation_function '%s' is not supported (GPT-2 uses 'gelu_new')",
                    us_hf_show_text(act, shown, sizeof shown));
        goto done;
    }
    const us_json *eps = us_hf_member(&root, "layer_norm_epsilon");
    double e = 1e-5;
    if (eps && eps->kind == US_JSON_NUMBER && !us_hf_number(eps, &e)) {
        s = us_fail(err, US_ERR_OOM, "config.json: out of memory reading layer_norm_epsilon");
        goto done;
    }
    if (eps && (eps->kind != US_JSON_NUMBER || !(e >= 0))) {
        s = us_fail(err, US_ERR_FORMAT, "config.json: layer_norm_epsilon must be a non-negative number");
        goto done;
    }
    /* Beyond float's range the conversion is undefined in C: saturate. */
    cfg.layer_norm_epsilon = e > FLT_MAX ? INFINITY : (float)e;
    const us_json *saw = us_hf_member(&root, "scale_attn_weights");
    if (saw && saw->kind != US_JSON_TRUE) {
        s = us_fail(err, US_ERR_FORMAT, "config.json: scale_attn_weights: false is not supported");
        goto done;
    }
    if (us_hf_truthy(us_hf_member(&root, "scale_attn_by_inverse_layer_idx"), &oom) && !oom) {
        s = us_fail(err, US_ERR_FORMAT, "config.json: scale_attn_by_inverse_layer_idx is not supported");
        goto done;
    }
    if (us_hf_truthy(us_hf_member(&root, "add_cross_attention"), &oom) && !oom) {
        s = us_fail(err, US_ERR_FORMAT, "config.json: add_cross_attention is not supported");
        goto done;
    }
    if (oom) {
        s = us_fail(err, US_ERR_OOM, "config.json: out of memory reading a number");
        goto done;
    }
    *out = cfg;
    s = US_OK;
done:
    us_json_free(&root);
    return s;
}
