/* module_internal.h — the layout of us_module, shared by module.c (building
 * the tree) and model.c (running it). Not part of the public API. */
#ifndef US_MODULE_INTERNAL_H
#define US_MODULE_INTERNAL_H
#include "unseal.h"
#include "kernels/gemm.h"

struct us_module {
    us_module_kind kind;
    int32_t refcount;

    /* Configuration; which fields mean something depends on kind. */
    int32_t in_features, out_features; /* Linear */
    int32_t num_embeddings, dim;       /* Embedding (dim = embedding_dim); Softmax (dim) */
    int32_t normalized_shape;          /* LayerNorm */
    int32_t affine;                    /* LayerNorm elementwise_affine; Linear has bias */
    float eps;                         /* LayerNorm */
    float p;                           /* Dropout, reported only */

    /* Parameters: params[i].data is owned (malloc'd), f32, contiguous.
     * Linear: weight [out, in], bias [out]. LayerNorm: weight [C], bias [C].
     * Embedding: weight [V, C]. */
    int32_t n_params;
    us_tensor params[2];

    /* Linear's packed weights, rebuilt when version != packed_version. */
    us_gemm_weights *packed;
    uint32_t version, packed_version;

    /* Parameter gradients, same shapes as params; allocated by the first
     * backward that reaches the module, accumulated until zeroed. */
    float *grads[2];

    /* Sequential's children, each holding one reference. */
    us_module **children;
    int32_t n_children, cap_children;
};
#endif
