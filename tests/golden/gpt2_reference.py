"""A plain-PyTorch GPT-2 with HuggingFace GPT2LMHeadModel semantics.

There is no `transformers` package in this environment, so this file rebuilds
the parts of HF's modeling_gpt2.py that unseal-wasm's GPT-2 tests need:

  * the same module tree, attribute names and class names
    (GPT2LMHeadModel -> transformer: GPT2Model -> h: ModuleList[GPT2Block] ...),
    so named_modules() and str(model) match HF's;
  * the same arithmetic, in the same order (Conv1D via addmm, scores divided
    by a scalar tensor holding sqrt(head_dim), causal mask filled with
    torch.finfo(dtype).min, softmax in the activations' dtype, NewGELU with
    tanh), so results match HF's eager attention path bit for bit on CPU;
  * an HF-style folder loader (config.json + model.safetensors) that accepts
    names with or without the "transformer." prefix and F32/F16/BF16 weights.

Differences from HF, all deliberate:

  * Forwards return plain tensors: GPT2Attention returns attn_output (HF: a
    tuple with present/attn_weights), GPT2Block returns hidden_states (HF: a
    tuple), GPT2Model returns last_hidden_state (HF: a ModelOutput) and
    GPT2LMHeadModel returns the logits. No KV cache, attention_mask,
    head_mask, cross-attention, token_type_ids or labels.
  * ModuleList is a subclass whose __repr__ is PyTorch 2.x's (identical
    consecutive children compressed to "(0-11): 12 x GPT2Block(" ...).
    torch 1.13 would print every child.
  * Non-module hook points. Attention internals and the mid-block residual
    are exposed through a callback instead of extra sub-modules, so the module
    tree (and therefore str(model) and named_modules()) stays exactly HF's:

        set_point_fn(model, fn)     # fn(name, tensor) -> tensor or None

    `name` is the full Unseal name, e.g. "transformer->h->0->attn->q".
    Returning a tensor replaces the value (an edit); None keeps it.
    Points, in firing order inside block L (prefix transformer->h->L->):
        attn->q, attn->k, attn->v   (B, H, T, hs)  after c_attn + split heads
        attn->scores                (B, H, T, T)   q @ k^T / sqrt(hs), masked
                                                   entries exactly -inf
        attn->pattern               (B, H, T, T)   softmax(scores)
        attn->z                     (B, T, H, hs)  pattern @ v, heads not yet
                                                   merged (before c_proj)
        resid_mid                   (B, T, C)      x + attn(ln_1(x))
    When no point fn is installed the forward is HF's exactly (mask value
    finfo.min). With one installed, the softmax reads the -inf-masked scores
    the callback returned; for unedited scores this gives the same pattern
    bit for bit (exp(-inf) == exp(finfo.min - max) == 0), which
    make_gpt2_golden.py asserts.
"""

import json
import math
import os
import struct

import numpy as np
import torch
from torch import nn
from torch.nn.modules.module import _addindent

__all__ = [
    "GPT2Config", "Conv1D", "NewGELUActivation", "ModuleList",
    "GPT2Attention", "GPT2MLP", "GPT2Block", "GPT2Model", "GPT2LMHeadModel",
    "set_point_fn", "point_names", "read_safetensors", "load_hf_folder",
]


# ------------------------------------------------------------------ config --

class GPT2Config:
    """The subset of HF's GPT2Config that the forward pass uses.

    Unknown keys from config.json are kept (in .extra) and ignored; keys that
    would change the arithmetic away from what is implemented raise."""

    defaults = dict(
        vocab_size=50257, n_positions=1024, n_embd=768, n_layer=12, n_head=12,
        n_inner=None, activation_function="gelu_new", resid_pdrop=0.1,
        embd_pdrop=0.1, attn_pdrop=0.1, layer_norm_epsilon=1e-5,
        initializer_range=0.02, scale_attn_weights=True,
        scale_attn_by_inverse_layer_idx=False, reorder_and_upcast_attn=False,
        add_cross_attention=False, tie_word_embeddings=True,
    )
    # HF GPT2Config.attribute_map
    aliases = dict(hidden_size="n_embd", max_position_embeddings="n_positions",
                   num_attention_heads="n_head", num_hidden_layers="n_layer")

    def __init__(self, **kw):
        for k, v in self.defaults.items():
            setattr(self, k, v)
        self.extra = {}
        for k, v in kw.items():
            k = self.aliases.get(k, k)
            if k in self.defaults:
                setattr(self, k, v)
            else:
                self.extra[k] = v
        if self.activation_function != "gelu_new":
            raise NotImplementedError("activation_function %r"
                                      % self.activation_function)
        if not self.scale_attn_weights or self.scale_attn_by_inverse_layer_idx \
                or self.reorder_and_upcast_attn or self.add_cross_attention \
                or not self.tie_word_embeddings:
            raise NotImplementedError("only the plain GPT-2 attention path "
                                      "with tied embeddings is implemented")
        if self.n_embd % self.n_head:
            raise ValueError("n_embd must be divisible by n_head")

    @property
    def hidden_size(self):
        return self.n_embd

    @property
    def inner_dim(self):
        return self.n_inner if self.n_inner is not None else 4 * self.n_embd

    @classmethod
    def from_json_file(cls, path):
        with open(path, encoding="utf-8") as f:
            return cls(**json.load(f))


# ----------------------------------------------------------------- modules --

class Conv1D(nn.Module):
    """HF's Conv1D: a Linear with the weight stored transposed, [nx, nf]."""

    def __init__(self, nf, nx):
        super().__init__()
        self.nf = nf
        self.nx = nx
        self.weight = nn.Parameter(torch.empty(nx, nf))
        self.bias = nn.Parameter(torch.zeros(nf))
        nn.init.normal_(self.weight, std=0.02)

    def __repr__(self):
        return "Conv1D(nf={nf}, nx={nx})".format(**self.__dict__)

    def forward(self, x):
        size_out = x.size()[:-1] + (self.nf,)
        x = torch.addmm(self.bias, x.view(-1, x.size(-1)), self.weight)
        return x.view(size_out)


class NewGELUActivation(nn.Module):
    """HF's 'gelu_new' (tanh approximation, as in the original GPT-2)."""

    def forward(self, input):
        return 0.5 * input * (1.0 + torch.tanh(
            math.sqrt(2.0 / math.pi) * (input + 0.044715 * torch.pow(input, 3.0))))


class ModuleList(nn.ModuleList):
    """nn.ModuleList with PyTorch 2.x's compressing __repr__ (copied logic)."""

    def __repr__(self):
        """Return a custom repr for ModuleList that compresses repeated module
        representations."""
        list_of_reprs = [repr(item) for item in self]
        if len(list_of_reprs) == 0:
            return self._get_name() + "()"

        start_end_indices = [[0, 0]]
        repeated_blocks = [list_of_reprs[0]]
        for i, r in enumerate(list_of_reprs[1:], 1):
            if r == repeated_blocks[-1]:
                start_end_indices[-1][1] += 1
                continue

            start_end_indices.append([i, i])
            repeated_blocks.append(r)

        lines = []
        main_str = self._get_name() + "("
        for (start_id, end_id), b in zip(start_end_indices, repeated_blocks):
            local_repr = f"({start_id}): {b}"  # default repr

            if start_id != end_id:
                n = end_id - start_id + 1
                local_repr = f"({start_id}-{end_id}): {n} x {b}"

            local_repr = _addindent(local_repr, 2)
            lines.append(local_repr)

        main_str += "\n  " + "\n  ".join(lines) + "\n"
        main_str += ")"
        return main_str


class _PointMixin:
    """Calls the installed point fn (see set_point_fn) for a named value."""

    def _point(self, local_name, t):
        fn = self.__dict__.get("_point_fn")
        if fn is None:
            return t
        r = fn(self.__dict__["_point_prefix"] + local_name, t)
        return t if r is None else r


class GPT2Attention(_PointMixin, nn.Module):
    def __init__(self, config, layer_idx=None):
        super().__init__()
        max_positions = config.n_positions
        # HF's causal mask buffer (bool, lower triangular). Non-persistent as
        # in current HF, so it is not part of the state_dict / checkpoint.
        self.register_buffer(
            "bias",
            torch.tril(torch.ones((max_positions, max_positions), dtype=torch.bool))
            .view(1, 1, max_positions, max_positions),
            persistent=False)
        self.embed_dim = config.n_embd
        self.num_heads = config.n_head
        self.head_dim = self.embed_dim // self.num_heads
        self.split_size = self.embed_dim
        self.layer_idx = layer_idx

        self.c_attn = Conv1D(3 * self.embed_dim, self.embed_dim)
        self.c_proj = Conv1D(self.embed_dim, self.embed_dim)
        self.attn_dropout = nn.Dropout(config.attn_pdrop)
        self.resid_dropout = nn.Dropout(config.resid_pdrop)

    def _split_heads(self, tensor):
        new_shape = tensor.size()[:-1] + (self.num_heads, self.head_dim)
        return tensor.view(new_shape).permute(0, 2, 1, 3)  # (B, H, T, hs)

    def _attn(self, query, key, value):
        attn_weights = torch.matmul(query, key.transpose(-1, -2))
        # HF: divide by a 0-d tensor of the activations' dtype holding
        # sqrt(head_dim) (not a multiply by the reciprocal).
        attn_weights = attn_weights / torch.full(
            [], value.size(-1) ** 0.5, dtype=attn_weights.dtype,
            device=attn_weights.device)

        query_length, key_length = query.size(-2), key.size(-2)
        causal_mask = self.bias[:, :, key_length - query_length:key_length, :key_length]
        if self.__dict__.get("_point_fn") is None:
            # HF exactly: masked entries get the dtype's most negative value.
            mask_value = torch.full([], torch.finfo(attn_weights.dtype).min,
                                    dtype=attn_weights.dtype,
                                    device=attn_weights.device)
            attn_weights = torch.where(causal_mask, attn_weights, mask_value)
        else:
            # Hook point 'scores': masked entries are exactly -inf.
            neg_inf = torch.full([], float("-inf"), dtype=attn_weights.dtype,
                                 device=attn_weights.device)
            attn_weights = self._point(
                "scores", torch.where(causal_mask, attn_weights, neg_inf))

        attn_weights = nn.functional.softmax(attn_weights, dim=-1)
        attn_weights = attn_weights.type(value.dtype)
        attn_weights = self._point("pattern", attn_weights)
        attn_weights = self.attn_dropout(attn_weights)
        attn_output = torch.matmul(attn_weights, value)  # (B, H, T, hs)
        return attn_output, attn_weights

    def forward(self, hidden_states):
        query, key, value = self.c_attn(hidden_states).split(self.split_size, dim=2)
        query = self._point("q", self._split_heads(query))
        key = self._point("k", self._split_heads(key))
        value = self._point("v", self._split_heads(value))

        attn_output, _ = self._attn(query, key, value)

        # HF _merge_heads: permute(0, 2, 1, 3).contiguous().view(B, T, C).
        # The permuted (B, T, H, hs) tensor is the hook point 'z'.
        z = self._point("z", attn_output.permute(0, 2, 1, 3))
        z = z.contiguous()
        attn_output = z.view(z.size()[:-2] + (self.num_heads * self.head_dim,))
        attn_output = self.c_proj(attn_output)
        attn_output = self.resid_dropout(attn_output)
        return attn_output


class GPT2MLP(nn.Module):
    def __init__(self, intermediate_size, config):
        super().__init__()
        embed_dim = config.n_embd
        self.c_fc = Conv1D(intermediate_size, embed_dim)
        self.c_proj = Conv1D(embed_dim, intermediate_size)
        self.act = NewGELUActivation()
        self.dropout = nn.Dropout(config.resid_pdrop)

    def forward(self, hidden_states):
        hidden_states = self.c_fc(hidden_states)
        hidden_states = self.act(hidden_states)
        hidden_states = self.c_proj(hidden_states)
        hidden_states = self.dropout(hidden_states)
        return hidden_states


class GPT2Block(_PointMixin, nn.Module):
    def __init__(self, config, layer_idx=None):
        super().__init__()
        hidden_size = config.n_embd
        self.ln_1 = nn.LayerNorm(hidden_size, eps=config.layer_norm_epsilon)
        self.attn = GPT2Attention(config, layer_idx=layer_idx)
        self.ln_2 = nn.LayerNorm(hidden_size, eps=config.layer_norm_epsilon)
        self.mlp = GPT2MLP(config.inner_dim, config)

    def forward(self, hidden_states):
        residual = hidden_states
        hidden_states = self.ln_1(hidden_states)
        attn_output = self.attn(hidden_states)
        hidden_states = attn_output + residual          # HF's operand order
        hidden_states = self._point("resid_mid", hidden_states)

        residual = hidden_states
        hidden_states = self.ln_2(hidden_states)
        feed_forward_hidden_states = self.mlp(hidden_states)
        hidden_states = residual + feed_forward_hidden_states
        return hidden_states


class GPT2Model(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.embed_dim = config.n_embd
        self.wte = nn.Embedding(config.vocab_size, self.embed_dim)
        self.wpe = nn.Embedding(config.n_positions, self.embed_dim)
        self.drop = nn.Dropout(config.embd_pdrop)
        self.h = ModuleList([GPT2Block(config, layer_idx=i)
                             for i in range(config.n_layer)])
        self.ln_f = nn.LayerNorm(self.embed_dim, eps=config.layer_norm_epsilon)

    def forward(self, input_ids):
        input_shape = input_ids.size()
        input_ids = input_ids.view(-1, input_shape[-1])
        position_ids = torch.arange(0, input_shape[-1], dtype=torch.long,
                                    device=input_ids.device)
        position_ids = position_ids.unsqueeze(0).view(-1, input_shape[-1])  # [1, T]

        inputs_embeds = self.wte(input_ids)
        position_embeds = self.wpe(position_ids)
        hidden_states = inputs_embeds + position_embeds
        hidden_states = self.drop(hidden_states)
        output_shape = input_shape + (hidden_states.size(-1),)

        for block in self.h:
            hidden_states = block(hidden_states)

        hidden_states = self.ln_f(hidden_states)
        return hidden_states.view(output_shape)


class GPT2LMHeadModel(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.transformer = GPT2Model(config)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.transformer.wte.weight  # tied, as in HF

    def forward(self, input_ids):
        hidden_states = self.transformer(input_ids)
        return self.lm_head(hidden_states)

    @classmethod
    def from_pretrained(cls, folder):
        return load_hf_folder(folder)


# ------------------------------------------------------------- hook points --

def set_point_fn(model, fn):
    """Install fn(name, tensor) -> tensor|None on every attention and block
    of `model` (any root: GPT2LMHeadModel, GPT2Model, ...). fn=None removes
    it and restores HF's exact code path."""
    for name, m in model.named_modules():
        if isinstance(m, (GPT2Attention, GPT2Block)):
            if fn is None:
                m.__dict__.pop("_point_fn", None)
                m.__dict__.pop("_point_prefix", None)
            else:
                m.__dict__["_point_fn"] = fn
                m.__dict__["_point_prefix"] = name.replace(".", "->") + "->"


ATTN_POINTS = ("q", "k", "v", "scores", "pattern", "z")


def point_names(n_layer, prefix=""):
    """All hook points of a GPT2LMHeadModel in the order they fire (children
    before parents). `prefix` is "" for GPT2LMHeadModel."""
    t = prefix + "transformer"
    out = [t + "->wte", t + "->wpe", t + "->drop"]
    for L in range(n_layer):
        b = "%s->h->%d" % (t, L)
        a = b + "->attn"
        out += [b + "->ln_1", a + "->c_attn", a + "->q", a + "->k", a + "->v",
                a + "->scores", a + "->pattern", a + "->attn_dropout", a + "->z",
                a + "->c_proj", a + "->resid_dropout", a, b + "->resid_mid",
                b + "->ln_2", b + "->mlp->c_fc", b + "->mlp->act",
                b + "->mlp->c_proj", b + "->mlp->dropout", b + "->mlp", b]
    out += [t + "->ln_f", t, prefix + "lm_head"]
    return out


def is_module_point(name):
    """False for the callback points (q, k, v, scores, pattern, z, resid_mid)."""
    last = name.rsplit("->", 1)[-1]
    return last not in ATTN_POINTS and last != "resid_mid"


# ---------------------------------------------------------- folder loading --

_ST_DTYPES = {"F32": "<f4", "F16": "<f2", "F64": "<f8", "I32": "<i4",
              "I64": "<i8"}


def read_safetensors(path):
    """Minimal safetensors reader -> (metadata, {name: numpy array})."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    data = memoryview(raw)[8 + n:]
    meta = header.pop("__metadata__", {}) or {}
    out = {}
    for k, e in header.items():
        b, en = e["data_offsets"]
        if e["dtype"] == "BF16":
            u = np.frombuffer(data[b:en], dtype="<u2").astype(np.uint32) << 16
            arr = u.view("<f4")
        else:
            arr = np.frombuffer(data[b:en], dtype=_ST_DTYPES[e["dtype"]])
        out[k] = arr.reshape(e["shape"]).copy()
    return meta, out


_IGNORED_SUFFIXES = (".attn.bias", ".attn.masked_bias")  # old mask buffers


def load_hf_folder(folder, dtype=torch.float32):
    """Load an HF-style GPT-2 folder (config.json + model.safetensors).

    Like HF's from_pretrained: names may carry the "transformer." prefix or
    not (base_model_prefix), lm_head.weight may be absent (tied), the old
    attn.bias / attn.masked_bias buffers are ignored, and weights are cast to
    `dtype` (float32 by default, whatever the file stores)."""
    config = GPT2Config.from_json_file(os.path.join(folder, "config.json"))
    model = GPT2LMHeadModel(config)
    _, tensors = read_safetensors(os.path.join(folder, "model.safetensors"))
    params = dict(model.named_parameters())  # lm_head.weight deduplicated away
    loaded = set()
    for k, a in tensors.items():
        if k.endswith(_IGNORED_SUFFIXES):
            continue
        name = k
        if name == "lm_head.weight":
            wte = tensors.get("transformer.wte.weight", tensors.get("wte.weight"))
            if wte is None or not np.array_equal(wte, a):
                raise ValueError("lm_head.weight differs from wte (untied)")
            continue
        if not name.startswith("transformer."):
            name = "transformer." + name
        if name not in params:
            raise KeyError("unexpected tensor " + k)
        p = params[name]
        t = torch.from_numpy(a)
        if tuple(t.shape) != tuple(p.shape):
            raise ValueError("%s: shape %s, expected %s"
                             % (k, tuple(t.shape), tuple(p.shape)))
        with torch.no_grad():
            p.copy_(t.to(p.dtype))
        loaded.add(name)
    missing = set(params) - loaded
    if missing:
        raise KeyError("missing tensors: " + ", ".join(sorted(missing)))
    model.to(dtype)
    model.eval()
    return model
