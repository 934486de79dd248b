#!/usr/bin/python3
"""Writes tests/fixtures/hf-llama-stories260K/{model.safetensors,config.json}:
stories260K (../shared/data/stories260K/stories260K.bin) in the Hugging Face
llama layout, as transformers' convert_llama_weights_to_hf.py lays a Meta /
llama2.c checkpoint out: HF names, and the rows of q_proj and k_proj
permuted within each head from the adjacent-pair rotary order to HF's
half-split one (w.view(heads, hs // 2, 2, in).transpose(1, 2)). Matrices in
float16 (to keep the fixture small), norm weights in float32; tied
classifier (no lm_head). The safetensors file is written by hand from its
definition (u64 header length, JSON header, data), with PyTorch 1.13 doing
the permutation and the float16 rounding. tests/test_io_convert.c checks that
hwadapt quantize turns it into a GGUF whose logits equal stories260K.bin's
with its matrices in f16.

usage: /usr/bin/python3 tests/reference/gen_hf_llama_fixture.py [DATA_DIR]"""
import json
import os
import struct
import sys

import torch

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
from llama_reference import load_llama2c  # noqa: E402  (the checkpoint's reader, shared)

data = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "..", "shared", "data")
p = load_llama2c(os.path.join(data, "stories260K", "stories260K.bin"))
n_layers, n_heads, n_kv_heads, dim = p["n_layers"], p["n_heads"], p["n_kv"], p["dim"]
assert p["cls"] is p["emb"], "stories260K has a tied classifier (no lm_head)"


def to_hf(x, heads):
    """The rotary permutation transformers' converter applies to Meta's q/k."""
    rows, cols = x.shape
    return x.view(heads, rows // heads // 2, 2, cols).transpose(1, 2).reshape(rows, cols)


tensors = {"model.embed_tokens.weight": p["emb"].half()}
for l in range(n_layers):
    pre = f"model.layers.{l}."
    tensors[pre + "input_layernorm.weight"] = p["att_norm"][l].float()
    tensors[pre + "self_attn.q_proj.weight"] = to_hf(p["wq"][l], n_heads).half()
    tensors[pre + "self_attn.k_proj.weight"] = to_hf(p["wk"][l], n_kv_heads).half()
    tensors[pre + "self_attn.v_proj.weight"] = p["wv"][l].half()
    tensors[pre + "self_attn.o_proj.weight"] = p["wo"][l].half()
    tensors[pre + "post_attention_layernorm.weight"] = p["ffn_norm"][l].float()
    tensors[pre + "mlp.gate_proj.weight"] = p["w1"][l].half()
    tensors[pre + "mlp.down_proj.weight"] = p["w2"][l].half()
    tensors[pre + "mlp.up_proj.weight"] = p["w3"][l].half()
tensors["model.norm.weight"] = p["out_norm"].float()

header, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
for name, t in tensors.items():
    b = t.contiguous().numpy().astype("<f2" if t.dtype == torch.float16 else "<f4").tobytes()
    header[name] = {"dtype": "F16" if t.dtype == torch.float16 else "F32", "shape": list(t.shape),
                    "data_offsets": [off, off + len(b)]}
    blobs.append(b)
    off += len(b)
h = json.dumps(header, separators=(",", ":")).encode()
h += b" " * ((8 - len(h) % 8) % 8)
out = os.path.join(here, "..", "fixtures", "hf-llama-stories260K")
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "model.safetensors"), "wb") as f:
    f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": dim,
          "intermediate_size": p["w1"].shape[1], "num_hidden_layers": n_layers, "num_attention_heads": n_heads,
          "num_key_value_heads": n_kv_heads, "max_position_embeddings": p["seq_len"], "vocab_size": p["vocab"],
          "rms_norm_eps": 1e-05, "rope_theta": 10000.0, "tie_word_embeddings": True, "hidden_act": "silu",
          "torch_dtype": "float16"}
with open(os.path.join(out, "config.json"), "w") as f:
    json.dump(config, f, indent=2)
    f.write("\n")
print("wrote", out, off, "bytes of tensors")
