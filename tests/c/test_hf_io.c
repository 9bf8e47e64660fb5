/* test_hf_io.c — the readers of a HuggingFace model folder's small JSON files:
 * config.json (us_gpt2_config_parse, which must follow web/gpt2.js
 * parseConfig rule for rule and message for message) and the sharded index
 * model.safetensors.index.json (us_shard_index_parse, which must refuse any
 * file name that could leave the model folder). All inputs are in memory, so
 * these tests also run as WebAssembly. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "unseal.h"

/* ---------------------------------------------------------------- config.json */

static us_status config(const char *json, us_gpt2_config *cfg, us_error *err) {
    return us_gpt2_config_parse(json, strlen(json), cfg, err);
}

static void test_config_gpt2_small(void) {
    /* openai-community/gpt2's config.json, abridged. */
    const char *json =
        "{\n  \"activation_function\": \"gelu_new\",\n  \"architectures\": [\"GPT2LMHeadModel\"],\n"
        "  \"attn_pdrop\": 0.1,\n  \"bos_token_id\": 50256,\n  \"embd_pdrop\": 0.1,\n"
        "  \"eos_token_id\": 50256,\n  \"initializer_range\": 0.02,\n  \"layer_norm_epsilon\": 1e-05,\n"
        "  \"model_type\": \"gpt2\",\n  \"n_ctx\": 1024,\n  \"n_embd\": 768,\n  \"n_head\": 12,\n"
        "  \"n_layer\": 12,\n  \"n_positions\": 1024,\n  \"resid_pdrop\": 0.1,\n"
        "  \"summary_activation\": null,\n  \"summary_first_dropout\": 0.1,\n"
        "  \"task_specific_params\": {\"text-generation\": {\"do_sample\": true, \"max_length\": 50}},\n"
        "  \"vocab_size\": 50257\n}\n";
    us_gpt2_config cfg;
    us_error err = {0};
    us_status s = config(json, &cfg, &err);
    if (s != US_OK) fprintf(stderr, "  %s\n", err.message);
    REQUIRE(s == US_OK);
    CHECK(cfg.vocab_size == 50257 && cfg.n_positions == 1024 && cfg.n_embd == 768);
    CHECK(cfg.n_layer == 12 && cfg.n_head == 12 && cfg.n_inner == 0);
    CHECK(cfg.layer_norm_epsilon == 1e-5f);
}

static void test_config_defaults_and_forms(void) {
    us_gpt2_config cfg;
    us_error err = {0};
    /* Everything missing: GPT2Config's defaults. */
    REQUIRE(config("{\"model_type\": \"gpt2\"}", &cfg, &err) == US_OK);
    CHECK(cfg.vocab_size == 50257 && cfg.n_positions == 1024 && cfg.n_embd == 768);
    CHECK(cfg.n_layer == 12 && cfg.n_head == 12 && cfg.n_inner == 0 && cfg.layer_norm_epsilon == 1e-5f);
    /* An architecture instead of model_type. */
    CHECK(config("{\"architectures\": [\"Foo\", \"GPT2Model\"]}", &cfg, &err) == US_OK);
    /* Integers as JavaScript numbers see them; n_inner given; the tanh GELU. */
    REQUIRE(config("{\"model_type\":\"gpt2\",\"n_embd\":768.0,\"n_head\":1.2e1,\"n_layer\":2,"
                   "\"n_inner\":3072,\"vocab_size\":300,\"n_positions\":64,\"layer_norm_epsilon\":0,"
                   "\"activation_function\":\"gelu_pytorch_tanh\",\"scale_attn_weights\":true}",
                   &cfg, &err) == US_OK);
    CHECK(cfg.n_embd == 768 && cfg.n_head == 12 && cfg.n_layer == 2 && cfg.n_inner == 3072);
    CHECK(cfg.vocab_size == 300 && cfg.n_positions == 64 && cfg.layer_norm_epsilon == 0.0f);
    /* A key twice keeps its last value, as JSON.parse. */
    REQUIRE(config("{\"model_type\":\"gpt2\",\"n_layer\":0,\"n_layer\":3}", &cfg, &err) == US_OK);
    CHECK(cfg.n_layer == 3);
    /* Falsy values of the two flags that must be off. */
    CHECK(config("{\"model_type\":\"gpt2\",\"scale_attn_by_inverse_layer_idx\":0,"
                 "\"add_cross_attention\":\"\"}", &cfg, &err) == US_OK);
    CHECK(config("{\"model_type\":\"gpt2\",\"scale_attn_by_inverse_layer_idx\":null,"
                 "\"add_cross_attention\":-0.0e5}", &cfg, &err) == US_OK);
    /* layer_norm_epsilon: tiny becomes 0, beyond float's range infinity
     * (what a JS number passed to an f32 becomes). */
    REQUIRE(config("{\"model_type\":\"gpt2\",\"layer_norm_epsilon\":1e-60}", &cfg, &err) == US_OK);
    CHECK(cfg.layer_norm_epsilon == 0.0f);
    REQUIRE(config("{\"model_type\":\"gpt2\",\"layer_norm_epsilon\":1e39}", &cfg, &err) == US_OK);
    CHECK(isinf(cfg.layer_norm_epsilon));
    REQUIRE(config("{\"model_type\":\"gpt2\",\"layer_norm_epsilon\":1e999}", &cfg, &err) == US_OK);
    CHECK(isinf(cfg.layer_norm_epsilon));
}

static void test_config_errors(void) {
    static const struct { const char *json, *want; } cases[] = {
        {"[]", "config.json: expected a JSON object"},
        {"{\"model_type\": \"gpt2\",}", "config.json: invalid JSON at byte 22"},
        {"{\"model_type\": \"llama\"}", "config.json: model_type 'llama' is not supported; unseal-wasm runs GPT-2"},
        {"{\"model_type\": null, \"architectures\": [\"GPT2LMHeadModel\"]}", "model_type 'null' is not supported"},
        {"{\"model_type\": \"GPT2\"}", "model_type 'GPT2' is not supported"},
        {"{}", "config.json: no model_type and no GPT2 architecture (got [])"},
        {"{\"architectures\": null}", "no GPT2 architecture (got [])"},
        {"{\"architectures\": [\"LlamaForCausalLM\", 5]}", "(got [\"LlamaForCausalLM\",5])"},
        {"{\"architectures\": \"GPT2LMHeadModel\"}", "(got \"GPT2LMHeadModel\")"},
        {"{\"model_type\":\"gpt2\",\"vocab_size\":0}", "config.json: vocab_size must be a positive integer, got 0"},
        {"{\"model_type\":\"gpt2\",\"n_positions\":-5}", "n_positions must be a positive integer, got -5"},
        {"{\"model_type\":\"gpt2\",\"n_embd\":767.5}", "n_embd must be a positive integer, got 767.5"},
        {"{\"model_type\":\"gpt2\",\"n_layer\":\"12\"}", "n_layer must be a positive integer, got \"12\""},
        {"{\"model_type\":\"gpt2\",\"n_head\":null}", "n_head must be a positive integer, got null"},
        {"{\"model_type\":\"gpt2\",\"n_head\":[ 1, 2 ]}", "n_head must be a positive integer, got [1,2]"},
        {"{\"model_type\":\"gpt2\",\"n_layer\":1e999}", "n_layer must be a positive integer, got 1e999"},
        {"{\"model_type\":\"gpt2\",\"n_layer\":2147483648}",
         "n_layer must be a positive integer below 2^31, got 2147483648"},
        {"{\"model_type\":\"gpt2\",\"n_inner\":0}", "n_inner must be null or a positive integer, got 0"},
        {"{\"model_type\":\"gpt2\",\"n_embd\":10,\"n_head\":3}", "n_embd (10) must be divisible by n_head (3)"},
        {"{\"model_type\":\"gpt2\",\"activation_function\":\"relu\"}",
         "activation_function 'relu' is not supported (GPT-2 uses 'gelu_new')"},
        {"{\"model_type\":\"gpt2\",\"activation_function\":null}", "activation_function 'null' is not supported"},
        {"{\"model_type\":\"gpt2\",\"layer_norm_epsilon\":-1e-5}", "layer_norm_epsilon must be a non-negative number"},
        {"{\"model_type\":\"gpt2\",\"layer_norm_epsilon\":\"1e-5\"}", "layer_norm_epsilon must be a non-negative"},
        {"{\"model_type\":\"gpt2\",\"scale_attn_weights\":false}", "scale_attn_weights: false is not supported"},
        {"{\"model_type\":\"gpt2\",\"scale_attn_weights\":1}", "scale_attn_weights: false is not supported"},
        {"{\"model_type\":\"gpt2\",\"scale_attn_by_inverse_layer_idx\":true}",
         "scale_attn_by_inverse_layer_idx is not supported"},
        {"{\"model_type\":\"gpt2\",\"scale_attn_by_inverse_layer_idx\":[]}",
         "scale_attn_by_inverse_layer_idx is not supported"},
        {"{\"model_type\":\"gpt2\",\"add_cross_attention\":\"no\"}", "add_cross_attention is not supported"},
        {"{\"model_type\":\"gpt2\",\"add_cross_attention\":1e-400}", NULL}, /* 1e-400 is 0: falsy */
        /* parseConfig's order: sizes before the activation. */
        {"{\"model_type\":\"gpt2\",\"activation_function\":\"relu\",\"n_head\":0}", "n_head must be"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        us_gpt2_config cfg;
        memset(&cfg, 0x5a, sizeof cfg);
        us_error err = {0};
        us_status s = config(cases[i].json, &cfg, &err);
        if (!cases[i].want) {
            CHECK(s == US_OK);
            continue;
        }
        int ok = s == US_ERR_FORMAT && strstr(err.message, cases[i].want) != NULL;
        if (!ok) fprintf(stderr, "  %s: got %d \"%s\", want \"%s\"\n", cases[i].json, s, err.message, cases[i].want);
        CHECK(ok);
        CHECK(cfg.vocab_size == 0 && cfg.n_embd == 0 && cfg.layer_norm_epsilon == 0.0f); /* zeroed */
    }
    us_gpt2_config cfg;
    us_error err = {0};
    CHECK(us_gpt2_config_parse(NULL, 3, &cfg, &err) == US_ERR_INVALID_ARG);
    CHECK(us_gpt2_config_parse("{}", 2, NULL, &err) == US_ERR_INVALID_ARG);
    CHECK(us_gpt2_config_parse(NULL, 0, &cfg, &err) == US_ERR_FORMAT);
}

/* A long or odd value is shown bounded, cut at a character boundary. */
static void test_config_message_bounds(void) {
    char json[2200];
    strcpy(json, "{\"model_type\": \"");
    for (int i = 0; i < 500; i++) strcat(json, "\xc3\xa9\t"); /* é then a tab, escaped below */
    /* make the tabs escapes so the JSON is valid */
    char fixed[2400], *o = fixed;
    for (const char *p = json; *p; p++) {
        if (*p == '\t') {
            *o++ = '\\';
            *o++ = 't';
        } else {
            *o++ = *p;
        }
    }
    strcpy(o, "\"}");
    us_gpt2_config cfg;
    us_error err = {0};
    REQUIRE(config(fixed, &cfg, &err) == US_ERR_FORMAT);
    CHECK(strstr(err.message, "model_type '\xc3\xa9?\xc3\xa9?") != NULL); /* the tab as '?' */
    CHECK(strstr(err.message, "...' is not supported") != NULL);
    CHECK(strlen(err.message) < sizeof err.message - 1); /* the whole message fits */
}

/* ---------------------------------------------------------------- model.safetensors.index.json */

static us_status shard(const char *json, us_shard_index *idx, us_error *err) {
    return us_shard_index_parse(json, strlen(json), idx, err);
}

static int is_empty_index(const us_shard_index *idx) {
    return idx->n_files == 0 && idx->files == NULL && idx->n_tensors == 0 && idx->tensors == NULL;
}

static void test_shard_index(void) {
    const char *json =
        "{\"metadata\": {\"total_size\": 497759232},\n \"weight_map\": {\n"
        "  \"transformer.h.0.attn.c_attn.bias\": \"model-00001-of-00002.safetensors\",\n"
        "  \"transformer.wte.weight\": \"model-00002-of-00002.safetensors\",\n"
        "  \"transformer.wpe.weight\": \"model-00001-of-00002.safetensors\",\n"
        "  \"lm_head.weight\": \"sub/dir/model-00003.safetensors\"\n }}";
    us_shard_index idx;
    us_error err = {0};
    us_status s = shard(json, &idx, &err);
    if (s != US_OK) fprintf(stderr, "  %s\n", err.message);
    REQUIRE(s == US_OK);
    REQUIRE(idx.n_files == 3 && idx.n_tensors == 4);
    CHECK(strcmp(idx.files[0], "model-00001-of-00002.safetensors") == 0);
    CHECK(strcmp(idx.files[1], "model-00002-of-00002.safetensors") == 0);
    CHECK(strcmp(idx.files[2], "sub/dir/model-00003.safetensors") == 0);
    CHECK(strcmp(idx.tensors[0].name, "transformer.h.0.attn.c_attn.bias") == 0 && idx.tensors[0].file == 0);
    CHECK(strcmp(idx.tensors[1].name, "transformer.wte.weight") == 0 && idx.tensors[1].file == 1);
    CHECK(strcmp(idx.tensors[2].name, "transformer.wpe.weight") == 0 && idx.tensors[2].file == 0);
    CHECK(strcmp(idx.tensors[3].name, "lm_head.weight") == 0 && idx.tensors[3].file == 2);
    us_shard_index_free(&idx);
    CHECK(is_empty_index(&idx));
    us_shard_index_free(&idx); /* twice is harmless */
    us_shard_index_free(NULL);

    /* Empty weight_map; escapes unescaped; the last weight_map counts. */
    REQUIRE(shard("{\"weight_map\": {}}", &idx, &err) == US_OK);
    CHECK(idx.n_files == 0 && idx.n_tensors == 0);
    us_shard_index_free(&idx);
    REQUIRE(shard("{\"weight_map\": 5, \"weight_map\": {\"a\\u00e9\": \"m\\u00e9.safetensors\"}}", &idx, &err) ==
            US_OK);
    CHECK(idx.n_files == 1 && strcmp(idx.files[0], "m\xc3\xa9.safetensors") == 0);
    CHECK(strcmp(idx.tensors[0].name, "a\xc3\xa9") == 0);
    us_shard_index_free(&idx);
    /* Names that only look odd are fine: a digit before ':' is no scheme. */
    REQUIRE(shard("{\"weight_map\": {\"a\": \"1a:b\", \"b\": \"...\", \"c\": \".x/..y\"}}", &idx, &err) == US_OK);
    CHECK(idx.n_files == 3);
    us_shard_index_free(&idx);
}

static void test_shard_index_rejects_escapes(void) {
    static const char *const bad[] = {
        "\"\"",
        "\"/etc/passwd\"",
        "\"\\\\server\\\\share\"",
        "\"https://example.com/model.safetensors\"",
        "\"file:model.safetensors\"",
        "\"C:model.safetensors\"",
        "\"x+y.z-w:a\"",
        "\"../secret\"",
        "\"a/../../secret\"",
        "\"a/..\"",
        "\"./model.safetensors\"",
        "\"a/./b\"",
        "\"a//b\"",
        "\"a/\"",
        "\"a\\\\b\"",
        "\"a\\u0000b\"",
        "\"a\\nb\"",
        "\"a\\u001fb\"",
        "\"a\\u007fb\"",
        "\"a\\u0085b\"",
        ("\"a\xc2\x9f" "b\""),
        "5",
        "null",
        "[\"model.safetensors\"]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char json[256];
        snprintf(json, sizeof json, "{\"weight_map\": {\"ok\": \"model.safetensors\", \"t\": %s}}", bad[i]);
        us_shard_index idx;
        memset(&idx, 0x5a, sizeof idx);
        us_error err = {0};
        char want[200];
        snprintf(want, sizeof want,
                 "model.safetensors.index.json: the file name %s must be a plain file name inside the model folder",
                 bad[i]);
        int ok = shard(json, &idx, &err) == US_ERR_FORMAT && strcmp(err.message, want) == 0;
        if (!ok) fprintf(stderr, "  %s: \"%s\"\n", bad[i], err.message);
        CHECK(ok);
        CHECK(is_empty_index(&idx));
    }
}

static void test_shard_index_errors(void) {
    static const struct { const char *json, *want; } cases[] = {
        {"[]", "model.safetensors.index.json: expected an object with a \"weight_map\" of tensor name"},
        {"{\"metadata\": {}}", "expected an object with a \"weight_map\""},
        {"{\"weight_map\": null}", "expected an object with a \"weight_map\""},
        {"{\"weight_map\": [\"a.safetensors\"]}", "expected an object with a \"weight_map\""},
        {"{\"weight_map\": {\"a\": \"x.safetensors\"}, \"weight_map\": []}", "expected an object"},
        {"{\"weight_map\": {\"a\": \"x\"", "model.safetensors.index.json: invalid JSON at byte 24"},
        {"{\"weight_map\": {\"a\": \"x\", \"b\": \"y\", \"a\": \"x\"}}", "tensor \"a\" appears twice in weight_map"},
        {"{\"weight_map\": {\"a\\u0000\": \"x\"}}", "the tensor name at byte 16 contains a NUL character"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        us_shard_index idx;
        us_error err = {0};
        int ok = shard(cases[i].json, &idx, &err) == US_ERR_FORMAT && strstr(err.message, cases[i].want) != NULL;
        if (!ok) fprintf(stderr, "  %s: \"%s\", want \"%s\"\n", cases[i].json, err.message, cases[i].want);
        CHECK(ok);
        CHECK(is_empty_index(&idx));
    }
    us_shard_index idx;
    us_error err = {0};
    CHECK(us_shard_index_parse(NULL, 1, &idx, &err) == US_ERR_INVALID_ARG);
    CHECK(us_shard_index_parse("{}", 2, NULL, &err) == US_ERR_INVALID_ARG);
}

/* Many entries over few files: linear work, and the map is right. */
static void test_shard_index_many(void) {
    enum { N = 20000 };
    size_t cap = (size_t)N * 48 + 64, n = 0;
    char *json = malloc(cap);
    REQUIRE(json != NULL);
    n += (size_t)snprintf(json + n, cap - n, "{\"weight_map\": {");
    for (int i = 0; i < N; i++)
        n += (size_t)snprintf(json + n, cap - n, "%s\"t%d\": \"shard-%d.safetensors\"", i ? "," : "", i, i % 7);
    n += (size_t)snprintf(json + n, cap - n, "}}");
    us_shard_index idx;
    us_error err = {0};
    us_status s = us_shard_index_parse(json, n, &idx, &err);
    free(json);
    REQUIRE(s == US_OK);
    CHECK(idx.n_files == 7 && idx.n_tensors == N);
    int good = 1;
    for (int i = 0; i < N && good; i++) {
        char want[32];
        snprintf(want, sizeof want, "shard-%d.safetensors", i % 7);
        good = strcmp(idx.files[idx.tensors[i].file], want) == 0;
    }
    CHECK(good);
    us_shard_index_free(&idx);
}

int main(void) {
    US_RUN(test_config_gpt2_small);
    US_RUN(test_config_defaults_and_forms);
    US_RUN(test_config_errors);
    US_RUN(test_config_message_bounds);
    US_RUN(test_shard_index);
    US_RUN(test_shard_index_rejects_escapes);
    US_RUN(test_shard_index_errors);
    US_RUN(test_shard_index_many);
    return us_harness_summary();
}
