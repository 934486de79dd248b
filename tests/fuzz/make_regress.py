#!/usr/bin/env python3
"""Writes the hand-made part of the regression corpus: one small file per
hostile-input class, under tests/fuzz/regress/<format>/, and a MANIFEST per
folder ("file<TAB>substring the error message must contain"). Files that
fuzzing found are added next to them by hand, with their own MANIFEST line.
Run from the repository root: python3 tests/fuzz/make_regress.py"""
import gzip
import json
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "regress")
cases = {}


def add(fmt, name, data, expect):
    cases.setdefault(fmt, []).append((name, data, expect))


# ---- safetensors -----------------------------------------------------------
def st(header, data=b"", pad=True, raw_len=None):
    h = header if isinstance(header, bytes) else header.encode()
    if pad:
        h += b" " * ((8 - len(h) % 8) % 8)
    n = len(h) if raw_len is None else raw_len
    return struct.pack("<Q", n) + h + data


def tj(**tensors):
    return json.dumps({k: v for k, v in tensors.items()})


T = lambda dt, shape, a, b: {"dtype": dt, "shape": shape, "data_offsets": [a, b]}
add("safetensors", "len_past_end.st", st(tj(w=T("F32", [1], 0, 4)), b"\0" * 4, raw_len=1000), "runs past the end")
add("safetensors", "len_near_2_64.st", struct.pack("<Q", 2**64 - 8) + b"{}", "exceeds the cap")
add("safetensors", "len_over_cap.st", struct.pack("<Q", 100000001) + b"{}", "exceeds the cap")
add("safetensors", "short_len.st", b"\x10\x00\x00", "fewer than the 8")
add("safetensors", "not_json.st", st("{not json}"), "invalid JSON")
add("safetensors", "not_object.st", st('["a"]'), "does not start with '{'")
add("safetensors", "nul_padding.st", st(b'{}\0\0\0\0\0\0', pad=False), "only spaces may pad")
add("safetensors", "newline_padding.st", st(b'{}\n     ', pad=False), "only spaces may pad")
add("safetensors", "offsets_reversed.st", st(tj(w=T("F32", [1], 4, 0)), b"\0" * 4), "reversed")
add("safetensors", "offsets_negative.st", st(tj(w=T("F32", [1], -4, 0)), b"\0" * 4), "non-negative integer")
add("safetensors", "offsets_past_end.st", st(tj(w=T("F32", [4], 0, 16)), b"\0" * 4), "but the data section has 4")
add("safetensors", "overlap.st", st(tj(a=T("F32", [2], 0, 8), b=T("F32", [2], 4, 12)), b"\0" * 12), "overlaps")
add("safetensors", "gap.st", st(tj(a=T("F32", [1], 0, 4), b=T("F32", [1], 8, 12)), b"\0" * 12), "leaves a gap")
add("safetensors", "trailing.st", st(tj(a=T("F32", [1], 0, 4)), b"\0" * 8), "trailing bytes")
add("safetensors", "shape_mismatch.st", st(tj(a=T("F32", [3], 0, 8)), b"\0" * 8), "shape x dtype size is 12")
add("safetensors", "shape_overflow.st", st(tj(a=T("F32", [2**62, 2**62], 0, 0))), "overflows")
add("safetensors", "shape_wraps_zero.st", st(tj(a=T("U8", [2**32, 2**32], 0, 0))), "overflows")
add("safetensors", "shape_x_size_overflow.st", st(tj(a=T("F64", [2**62], 0, 0))), "overflows")
add("safetensors", "unknown_dtype.st", st(tj(a=T("F8_E4M3", [1], 0, 1)), b"\0"), "unsupported dtype 'F8_E4M3'")
add("safetensors", "duplicate_name.st",
    st('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}',
       b"\0\0"), "duplicate object key")
add("safetensors", "invalid_utf8.st", st(b'{"a\xff":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', b"\0"),
    "unable to decode byte 0xff")
add("safetensors", "truncated_data.st", st(tj(a=T("F32", [4], 0, 16)), b"\0" * 15), "but the data section has 15")
add("safetensors", "huge_offset.st", st('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,18446744073709551616]}}'),
    "too big integer")
add("safetensors", "meta_not_string.st", st('{"__metadata__":{"k":1}}'), "is not a string")
add("safetensors", "unexpected_field.st", st('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":1}}', b"\0"),
    "unexpected field 'x'")
add("safetensors", "too_many_dims.st", st(tj(a=T("U8", [1] * 9, 0, 1)), b"\0"), "more than 8")

# ---- GGUF ---------------------------------------------------------------------
def gs(s):
    b = s if isinstance(s, bytes) else s.encode()
    return struct.pack("<Q", len(b)) + b


def kv_u32(k, v):
    return gs(k) + struct.pack("<II", 4, v)


def tinfo(name, dims, typ, off):
    return gs(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims) + struct.pack("<IQ", typ, off)


def gguf(kvs=(), tis=(), data=b"", version=3, n_t=None, n_kv=None, align=32):
    h = b"GGUF" + struct.pack("<IQQ", version, len(tis) if n_t is None else n_t, len(kvs) if n_kv is None else n_kv)
    h += b"".join(kvs) + b"".join(tis)
    if tis:
        h += b"\0" * ((align - len(h) % align) % align)
    return h + data


ok_t = tinfo("w", [4], 0, 0)
add("gguf", "bad_magic.gguf", b"GGUG" + b"\0" * 20, "magic: not 'GGUF'")
add("gguf", "version0.gguf", gguf(version=0), "version: 0 is not supported")
add("gguf", "version1.gguf", gguf(version=1), "version: 1 is not supported")
add("gguf", "version_huge.gguf", gguf(version=0xFFFFFFFF), "is not supported")
add("gguf", "version_swapped.gguf", gguf(version=0x03000000), "byte-swapped")
add("gguf", "truncated_header.gguf", gguf()[:12], "tensor count: truncated")
add("gguf", "huge_kv_count.gguf", gguf(n_kv=2**63), "key-value count")
add("gguf", "huge_tensor_count.gguf", gguf(n_t=2**64 - 1), "tensor count")
add("gguf", "huge_key_length.gguf", gguf([struct.pack("<Q", 2**64 - 1) + b"x" * 16]), "key: string length")
add("gguf", "huge_string_value.gguf", gguf([gs("k") + struct.pack("<IQ", 8, 2**63) + b"abc"]), "runs past the end")
add("gguf", "huge_array_count.gguf", gguf([gs("k") + struct.pack("<IIQ", 9, 6, 2**62) + b"\0" * 8]), "cannot fit")
add("gguf", "huge_string_array.gguf", gguf([gs("k") + struct.pack("<IIQ", 9, 8, 2**61) + b"\0" * 8]), "cannot fit")
add("gguf", "unknown_value_type.gguf", gguf([gs("k") + struct.pack("<II", 13, 0)]), "unknown value type 13")
add("gguf", "unknown_array_type.gguf", gguf([gs("k") + struct.pack("<IIQ", 9, 99, 0)]), "unknown value type 99")
nest = b""
for _ in range(100):
    nest = struct.pack("<IQ", 9, 1) + nest
add("gguf", "depth_bomb.gguf", gguf([gs("k") + struct.pack("<I", 9) + nest + struct.pack("<IQ", 4, 0)]), "nested deeper")
add("gguf", "bad_bool.gguf", gguf([gs("k") + struct.pack("<IB", 7, 2)]), "not 0 or 1")
add("gguf", "duplicate_key.gguf", gguf([kv_u32("k", 1), kv_u32("k", 2)]), "duplicate key")
add("gguf", "empty_key.gguf", gguf([gs("") + struct.pack("<II", 4, 1)]), "key: empty")
add("gguf", "duplicate_tensor.gguf", gguf(tis=[tinfo("w", [4], 0, 0), tinfo("w", [4], 0, 32)], data=b"\0" * 48),
    "duplicate tensor name")
add("gguf", "name_too_long.gguf", gguf(tis=[tinfo("n" * 64, [4], 0, 0)], data=b"\0" * 16), "exceeds the cap of 63")
add("gguf", "unknown_tensor_type.gguf", gguf(tis=[tinfo("w", [32], 13, 0)], data=b"\0" * 64),
    "unsupported tensor type 13 (w)")
# the block types: rows of whole blocks, and every block in the data
add("gguf", "q4_k_half_block.gguf", gguf(tis=[tinfo("w", [128], 12, 0)], data=b"\0" * 160),
    "is not a multiple of the block size 256 of q4_k")
add("gguf", "q6_k_truncated.gguf", gguf(tis=[tinfo("w", [256, 2], 14, 0)], data=b"\0" * 256),
    "but the data section has 256")
add("gguf", "q4_1_odd_row.gguf", gguf(tis=[tinfo("w", [48], 3, 0)], data=b"\0" * 64),
    "is not a multiple of the block size 32 of q4_1")
add("gguf", "too_many_dims.gguf", gguf(tis=[tinfo("w", [1, 1, 1, 1, 4], 0, 0)], data=b"\0" * 16), "5 dimensions")
add("gguf", "zero_dims.gguf", gguf(tis=[tinfo("w", [], 0, 0)], data=b"\0" * 16), "0 dimensions")
add("gguf", "zero_extent.gguf", gguf(tis=[tinfo("w", [4, 0], 0, 0)], data=b"\0" * 16), "is not a positive")
add("gguf", "dims_overflow.gguf", gguf(tis=[tinfo("w", [2**31, 2**31, 2**31, 2**31], 0, 0)], data=b"\0" * 16),
    "overflows")
add("gguf", "misaligned_offset.gguf", gguf(tis=[tinfo("w", [4], 0, 4)], data=b"\0" * 32), "not a multiple of the alignment")
add("gguf", "wrapping_offset.gguf", gguf(tis=[tinfo("w", [64], 0, 2**64 - 32)], data=b"\0" * 32), "wraps around")
add("gguf", "offset_past_end.gguf", gguf(tis=[tinfo("w", [4], 0, 32)], data=b"\0" * 32), "but the data section has 32")
add("gguf", "overlap.gguf", gguf(tis=[tinfo("a", [16], 0, 0), tinfo("b", [16], 0, 32)], data=b"\0" * 96), "overlaps")
add("gguf", "alignment_zero.gguf", gguf([kv_u32("general.alignment", 0)]), "not a non-zero power of two")
add("gguf", "alignment_not_pow2.gguf", gguf([kv_u32("general.alignment", 48)]), "not a non-zero power of two")
add("gguf", "alignment_wrong_type.gguf", gguf([gs("general.alignment") + struct.pack("<IQ", 10, 32)]), "expected u32")
add("gguf", "q8_row_not_block.gguf", gguf(tis=[tinfo("w", [33], 8, 0)], data=b"\0" * 64), "not a multiple of the block size 32")
add("gguf", "q4_row_not_block.gguf", gguf(tis=[tinfo("w", [16, 2], 2, 0)], data=b"\0" * 64), "not a multiple of the block size 32")
add("gguf", "truncated_tensor_info.gguf", gguf(tis=[ok_t])[:40], "truncated")
add("gguf", "truncated_data.gguf", gguf(tis=[ok_t], data=b"\0" * 15), "but the data section has 15")

def vocab_gguf(tokens_kv, extra=()):
    return gguf([tokens_kv] + list(extra))


arr_str = lambda k, toks: gs(k) + struct.pack("<IIQ", 9, 8, len(toks)) + b"".join(gs(t) for t in toks)
arr_f32 = lambda k, xs: gs(k) + struct.pack("<IIQ", 9, 6, len(xs)) + b"".join(struct.pack("<f", x) for x in xs)
add("gguf-vocab", "scores_count.gguf", vocab_gguf(arr_str("tokenizer.ggml.tokens", ["a", "b"]),
                                                  [arr_f32("tokenizer.ggml.scores", [0.0])]), "values for 2 tokens")
add("gguf-vocab", "empty_token.gguf", vocab_gguf(arr_str("tokenizer.ggml.tokens", ["a", ""])), "empty or contains a NUL")
add("gguf-vocab", "nul_token.gguf", vocab_gguf(arr_str("tokenizer.ggml.tokens", ["a", "b\0c"])), "empty or contains a NUL")
add("gguf-vocab", "no_tokens.gguf", vocab_gguf(arr_str("tokenizer.ggml.tokens", [])), "0 tokens")
add("gguf-vocab", "tokens_not_strings.gguf", vocab_gguf(arr_f32("tokenizer.ggml.tokens", [1.0])), "not an array of strings")

# byte-level BPE vocabularies (tokenizer.ggml.model "gpt2"): hwa_tokenizer_from_file
kv_str = lambda k, v: gs(k) + struct.pack("<I", 8) + gs(v)
arr_i32 = lambda k, xs: gs(k) + struct.pack("<IIQ", 9, 5, len(xs)) + b"".join(struct.pack("<i", x) for x in xs)


def bpe_gguf(tokens=("a", "b", "ab"), merges=("a b",), extra=()):
    kvs = [kv_str("tokenizer.ggml.model", "gpt2"), arr_str("tokenizer.ggml.tokens", list(tokens))]
    if merges is not None:
        kvs.append(arr_str("tokenizer.ggml.merges", list(merges)))
    return gguf(kvs + list(extra))


add("gguf-tokenizer", "merge_unknown_token.gguf", bpe_gguf(merges=["a b", "a z"]), "merges[1] 'a z': 'z' is not a token")
add("gguf-tokenizer", "merge_no_space.gguf", bpe_gguf(merges=["ab"]), "'ab' is not two tokens and a space")
add("gguf-tokenizer", "merge_two_spaces.gguf", bpe_gguf(merges=["a  b"]), "is not two tokens and a space")
add("gguf-tokenizer", "merge_not_joined.gguf", bpe_gguf(merges=["b a"]), "the two tokens joined are not a token")
add("gguf-tokenizer", "merges_missing.gguf", bpe_gguf(merges=None), "tokenizer.ggml.merges is missing")
add("gguf-tokenizer", "merges_not_strings.gguf", gguf([kv_str("tokenizer.ggml.model", "gpt2"),
                                                       arr_str("tokenizer.ggml.tokens", ["a"]),
                                                       arr_f32("tokenizer.ggml.merges", [1.0])]), "not an array of strings")
add("gguf-tokenizer", "merges_truncated.gguf", bpe_gguf(merges=["a b", "a b"])[:-5],
    "key 'tokenizer.ggml.merges': value: truncated")
add("gguf-tokenizer", "token_space.gguf", bpe_gguf(tokens=["a", "b c"], merges=[]), "'b c' is not byte-level BPE text")
add("gguf-tokenizer", "token_not_utf8.gguf", bpe_gguf(tokens=["a", b"\xff"], merges=[]),
    "tokens[1] '\\xff' is not byte-level BPE text")
add("gguf-tokenizer", "token_unmapped_char.gguf", bpe_gguf(tokens=["a", "\u0400"], merges=[]),
    "tokens[1] '\\xd0\\x80' is not byte-level BPE text")
add("gguf-tokenizer", "token_newline.gguf", bpe_gguf(tokens=["a", "\n"], merges=[]), "tokens[1] '\\x0a' is not")
add("gguf-tokenizer", "token_type_count.gguf", bpe_gguf(extra=[arr_i32("tokenizer.ggml.token_type", [1, 1])]),
    "token_type: not 3 i32 values")
add("gguf-tokenizer", "unknown_pre.gguf", bpe_gguf(extra=[kv_str("tokenizer.ggml.pre", "falcon")]),
    "tokenizer.ggml.pre 'falcon' is not supported (known:")
add("gguf-tokenizer", "no_tokens.gguf", bpe_gguf(tokens=[], merges=[]), "tokenizer.ggml.tokens is empty")
add("gguf-tokenizer", "bos_out_of_range.gguf", bpe_gguf(extra=[gs("tokenizer.ggml.bos_token_id") + struct.pack("<II", 4, 7)]),
    "bos_token_id: 7 is outside the vocabulary of 3")

# ---- llama2.c -------------------------------------------------------------------
def l2c(cfg, nfloats=None):
    dim, hid, L, H, KV, V, S = cfg
    if nfloats is None:
        hs = dim // H
        kv = hs * KV
        nfloats = abs(V) * dim + L * (2 * dim * dim + 2 * dim * kv + 3 * dim * hid + 2 * dim) + dim + S * hs
        if V < 0:
            nfloats += abs(V) * dim
    return struct.pack("<7i", *cfg) + b"\0" * (4 * nfloats)


good = (8, 16, 1, 2, 1, 4, 4)
add("llama2c", "negative_dim.bin", l2c((-8, 16, 1, 2, 1, 4, 4), 100), "config dim: -8 is not positive")
add("llama2c", "zero_layers.bin", l2c((8, 16, 0, 2, 1, 4, 4), 100), "config n_layers: 0")
add("llama2c", "heads_not_divide.bin", l2c((8, 16, 1, 3, 1, 4, 4), 100), "does not divide dim")
add("llama2c", "kv_not_divide.bin", l2c((8, 16, 1, 2, 3, 4, 4), 100), "does not divide n_heads")
add("llama2c", "odd_head.bin", l2c((6, 16, 1, 2, 1, 4, 4), 100), "is odd")
add("llama2c", "vocab_int_min.bin", l2c((8, 16, 1, 2, 1, -2**31, 4), 10), "out of range")
add("llama2c", "huge_sizes.bin", l2c((2**30, 2**30, 2**30, 2, 1, 2**30, 2**30), 10), "overflows")
add("llama2c", "truncated.bin", l2c(good)[:-4], "(truncated)")
add("llama2c", "trailing.bin", l2c(good) + b"\0" * 4, "(trailing bytes)")
add("llama2c", "unshared_missing_wcls.bin", l2c((8, 16, 1, 2, 1, -4, 4))[:-4 * 32], "(truncated)")
add("llama2c", "short_config.bin", b"\x08\0\0\0" * 6, "config: truncated")


def tok(max_len, toks):
    return struct.pack("<i", max_len) + b"".join(struct.pack("<fi", s, len(t)) + t for s, t in toks)


add("llama2c-vocab", "max_len_zero.bin", tok(0, [(0.0, b"a")]), "max_token_length: 0 is not positive")
add("llama2c-vocab", "negative_len.bin", struct.pack("<ifi", 4, 0.0, -1), "outside 0..max_token_length")
add("llama2c-vocab", "len_over_max.bin", tok(2, [(0.0, b"abc")]), "outside 0..max_token_length")
add("llama2c-vocab", "len_past_end.bin", struct.pack("<ifi", 8, 0.0, 5) + b"ab", "run past the end")
add("llama2c-vocab", "truncated_entry.bin", tok(4, [(0.0, b"a")]) + b"\0\0", "truncated header")
add("llama2c-vocab", "empty.bin", b"", "max_token_length: truncated")

# ---- IDX -------------------------------------------------------------------------
def idx(dims, data=None, code=8):
    h = bytes([0, 0, code, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims)
    n = 1
    for d in dims:
        n *= d
    return h + (bytes(n) if data is None else data)


add("idx", "bad_magic.idx", b"\x01\x00\x08\x01" + struct.pack(">I", 1) + b"\0", "not zero")
add("idx", "type_float.idx", idx([2], b"\0" * 8, code=0x0D), "unsupported IDX type 0x0d")
add("idx", "zero_ndim.idx", bytes([0, 0, 8, 0]), "0 dimensions")
add("idx", "five_dims.idx", bytes([0, 0, 8, 5]) + b"\0" * 20, "5 dimensions")
add("idx", "truncated_dims.idx", bytes([0, 0, 8, 3]) + b"\0\0\0\1", "truncated header")
add("idx", "zero_extent.idx", idx([0, 5], b""), "zero")
add("idx", "truncated_data.idx", idx([10, 10], b"\0" * 99), "(truncated)")
add("idx", "trailing.idx", idx([3], b"\0" * 4), "(trailing bytes)")
add("idx", "dims_overflow.idx", idx([2**32 - 1] * 4, b""), "overflows")
add("idx", "gz_truncated_data.idx.gz", gzip.compress(idx([10, 10], b"\1" * 99)), "(truncated)")
add("idx", "gz_trailing.idx.gz", gzip.compress(idx([3], b"\0" * 5)), "trailing bytes")
add("idx", "gz_bomb_claim.idx.gz", gzip.compress(idx([60000, 28, 28], b"")), "more than")
add("idx", "gz_corrupt.idx.gz", gzip.compress(idx([64], bytes(range(64))))[:-8] + b"\xff" * 8, "gzip")
add("idx", "gz_cut.idx.gz", gzip.compress(idx([4096], bytes(range(256)) * 16))[:30], "truncated")

# ---- settings files ------------------------------------------------------------------
add("settings", "unknown_section.ini", b"[all]\nthreads = 1\n[colour]\n", "unknown section [colour]")
add("settings", "unknown_key.ini", b"[train]\nspeed = 2\n", "unknown key 'speed' in [train]")
add("settings", "duplicate_key.ini", b"[all]\ndtype = f32\ndtype = f16\n", "set twice in [all] (first at line 2)")
add("settings", "duplicate_section.ini", b"[bench a]\n[bench  a]\n", "appears twice (first at line 1)")
add("settings", "key_outside.ini", b"dtype = f32\n", "comes before any [section]")
add("settings", "nul.ini", b"[all]\nthreads = 1\0\n", ":2: NUL byte")
add("settings", "threads_overflow.ini", b"[all]\nthreads = 18446744073709551617\n", "must be a whole number")
add("settings", "batch_zero.ini", b"[bench]\nbatch = 0\n", "batch '0' must be a whole number")
add("settings", "bad_dtype.ini", b"[all]\ndtype = q4_0\n", "is not one of f32, f16, bf16")
add("settings", "long_line.ini", b"[all]\n" + b"#" * 1025 + b"\n", ":2: a line of 1025 bytes")
add("settings", "too_many_lines.ini", b"\n" * 4097, "more than 4096 lines")
add("settings", "too_large.ini", b"#" * 1000 + (b"\n" + b"#" * 1000) * 65, "a settings file holds at most 65536")
add("settings", "open_bracket.ini", b"[bench linear1000\n", "must end with ']'")
add("settings", "epochs_in_all.ini", b"[all]\nepochs = 3\n", "unknown key 'epochs' in [all]")
add("settings", "momentum_one.ini", b"[train]\nmomentum = 1\n", "momentum '1' must be a number in [0, 1)")
add("settings", "lr_hex.ini", b"[train]\nlr = 0x1p-3\n", "lr '0x1p-3' must be a number > 0")
# The JSON form: what hwadapt tune writes, each way it can be wrong.
add("settings", "json_syntax.json", b'{"train": {"lr": }}', "settings/json_syntax.json:1:18: unexpected token")
add("settings", "json_duplicate_key.json", b'{"train": {"lr": 0.1, "lr": 0.2}}', "duplicate object key")
add("settings", "json_string_for_number.json", b'{"train": {"lr": "fast"}}',
    'train.lr: expected a number > 0, got "fast"')
add("settings", "json_real_for_integer.json", b'{"train": {"batch": 256.5}}',
    "train.batch: expected a whole number from 1 to 2147483647, got 256.5")
add("settings", "json_bool_for_integer.json", b'{"all": {"threads": true}}', "all.threads: expected a whole number")
add("settings", "json_unknown_key.json", b'{"train": {"batchsize": 256}}', "train.batchsize: unknown key (known in train:")
add("settings", "json_unknown_section.json", b'{"foo": {}}', "foo: unknown section; known: all, train")
add("settings", "json_train_key_in_bench.json", b'{"bench w": {"lr": 0.1}}', "bench w.lr: unknown key")
add("settings", "json_section_not_object.json", b'{"train": [1, 2]}', "train: expected an object of settings")
add("settings", "json_bad_version.json", b'{"hwadapt": "tune", "version": 2}', "version: expected 1")
add("settings", "json_bad_hwadapt.json", b'{"hwadapt": "train"}', 'hwadapt: expected "tune"')
add("settings", "json_tune_not_object.json", b'{"tune": 1}', "tune: expected an object")
add("settings", "json_nul.json", b'{"train": {"device": "cpu\\u0000"}}', "is not allowed")
add("settings", "json_control_in_name.json", b'{"bench a\\nb": {}}', "'a\\x0ab' is not one workload name")
add("settings", "json_deep.json", b'{"tune": ' + b"[" * 5000, "maximum parsing depth")
add("settings", "json_big_integer.json", b'{"all": {"threads": 18446744073709551617}}', "too big integer")
add("settings", "json_too_large.json", b"{" + b" " * 65535 + b"}", "a settings file holds at most 65536")
add("settings", "json_same_section_twice.json", b'{"bench a": {}, "bench  a": {}}', 'the section "bench a" appears twice')
add("settings", "json_many_sections.json",
    b"{" + b",".join(b'"bench w%d":{"batch":1}' % i for i in range(2000)) + b"}", "as an INI file")

# ---- importance matrices (llama.cpp's imatrix: legacy .dat and GGUF) --------------------
def dat_entry(name, ncall, vals, nval=None):
    n = name.encode()
    return struct.pack("<i", len(n)) + n + struct.pack("<ii", ncall, len(vals) if nval is None else nval) + \
        b"".join(struct.pack("<f", v) for v in vals)


def kv_strs(k, strs):
    return gs(k) + struct.pack("<IIQ", 9, 8, len(strs)) + b"".join(gs(x) for x in strs)


imx_keys = [kv_strs("imatrix.datasets", ["t.txt"]), kv_u32("imatrix.chunk_count", 1), kv_u32("imatrix.chunk_size", 4)]


def imx(tensors, keys=imx_keys):
    """tensors: (name, dims fastest first, f32 values); laid out 32-aligned."""
    tis, data = [], b""
    for name, dims, vals in tensors:
        tis.append(tinfo(name, dims, 0, len(data)))
        blob = b"".join(struct.pack("<f", v) for v in vals)
        data += blob + b"\0" * ((32 - len(blob) % 32) % 32)
    return gguf(keys, tis, data)


add("imatrix", "zero_entries.dat", struct.pack("<i", 0), "no legacy entry count")
add("imatrix", "negative_entries.dat", struct.pack("<i", -5), "no legacy entry count")
add("imatrix", "huge_name.dat", struct.pack("<ii", 1, 0x7FFFFFFF) + b"w", "name length")
add("imatrix", "negative_calls.dat", struct.pack("<i", 1) + dat_entry("w", -1, [1.0]), "negative or zero")
add("imatrix", "zero_values.dat", struct.pack("<i", 1) + dat_entry("w", 1, [], nval=0), "negative or zero")
add("imatrix", "values_past_end.dat", struct.pack("<i", 1) + dat_entry("w", 1, [1.0], nval=0x3FFFFFFF), "past the end")
add("imatrix", "nan_value.dat", struct.pack("<i", 1) + dat_entry("w", 1, [float("nan")]), "finite and >= 0")
add("imatrix", "duplicate.dat", struct.pack("<i", 2) + dat_entry("w", 1, [1.0]) + dat_entry("w", 1, [1.0]),
    "appears twice")
add("imatrix", "bad_trailer.dat", struct.pack("<i", 1) + dat_entry("w", 1, [1.0]) + struct.pack("<ii", 1, 99) + b"x",
    "dataset name that end the file")
add("imatrix", "missing_keys.gguf", imx([("w.in_sum2", [2, 1], [1, 1]), ("w.counts", [1, 1], [1])], keys=[]),
    "imatrix.chunk_count")
add("imatrix", "lone_sums.gguf", imx([("w.in_sum2", [2, 1], [1, 1])]), "no matching 'w.counts'")
add("imatrix", "experts.gguf", imx([("w.in_sum2", [2, 2], [1, 1, 1, 1]), ("w.counts", [1, 2], [1, 1])]),
    "only one per weight")
add("imatrix", "counts_mismatch.gguf", imx([("w.in_sum2", [2, 1], [1, 1]), ("w.counts", [3, 1], [1, 1, 1])]),
    "one count per matrix")
add("imatrix", "negative_count.gguf", imx([("w.in_sum2", [2, 1], [1, 1]), ("w.counts", [1, 1], [-4])]),
    "a count of rows")
add("imatrix", "tiny_count.gguf", imx([("w.in_sum2", [2, 1], [1, 3e38]), ("w.counts", [1, 1], [1e-30])]),
    "a count of rows")
add("imatrix", "inf_sum.gguf", imx([("w.in_sum2", [2, 1], [1, float("inf")]), ("w.counts", [1, 1], [1])]),
    "finite and >= 0")
add("imatrix", "three_dims.gguf", imx([("w.in_sum2", [1, 1, 1], [1]), ("w.counts", [1, 1], [1])]), "has 3 dims")
add("imatrix", "no_entries.gguf", imx([("other", [1], [1])]), "no importance entries")
add("imatrix", "f16_sums.gguf", gguf(imx_keys, [tinfo("w.in_sum2", [2, 1], 1, 0), tinfo("w.counts", [1, 1], 0, 32)],
                                     b"\0" * 64), "must be f32")
add("imatrix", "truncated.gguf", imx([("w.in_sum2", [2, 1], [1, 1]), ("w.counts", [1, 1], [1])])[:-40], "ends at byte")


# ---- compressed model (docs/formats.md; written by tests/reference/cmodel_py.py) ----
import sys  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
from cmodel_py import cmodel_bytes, fix_crc  # noqa: E402


def dense(out, inn, **kw):
    return dict({"out": out, "in": inn, "bias": [0.5] * out, "values": [0.25] * (out * inn)}, **kw)


def shared(out, inn, bits, codebook, codes, sparse=None):
    L = {"out": out, "in": inn, "bias": [0.0] * out, "bits": bits, "codebook": codebook, "codes": codes}
    if sparse:
        L["row_ptr"], L["col"] = sparse
    return L


def int8(out, inn, act=1, q=None, q_scale=None, act_scale=0.5):
    return {"out": out, "in": inn, "bias": [0.0] * out, "q": q or [1] * (out * inn),
            "q_scale": q_scale or [0.125] * out, "act": act, "act_zero": 128, "act_scale": act_scale}


def sparse_f32(out, inn, row_ptr, col):
    return {"out": out, "in": inn, "bias": [0.0] * out, "row_ptr": row_ptr, "col": col, "values": [1.0] * row_ptr[-1]}


def cm(*layers, huffman=False, activation=0):
    return cmodel_bytes(list(layers), activation, huffman)


def patch(b, at, new):
    return fix_crc(b[:at] + new + b[at + len(new):])


HDR = 12  # the file header; a layer record starts with out, in, form, bits, n_codes, nnz (16 bytes)
SP = ([0, 2, 3], [1, 300, 5])   # rows of a [2, 310] layer: gaps 1, 298 (an escape under Huffman), 5
good_sh = cm(shared(2, 310, 2, [-1.0, 0.0, 1.0], [0, 1, 2], SP), dense(3, 2), huffman=True)
add("cmodel", "valid_sparse_shared_huffman.hwac", good_sh, "=valid")
add("cmodel", "valid_dense_int8_plain.hwac", cm(dense(4, 3), int8(2, 4, act=0, act_scale=0.0)), "=valid")
add("cmodel", "valid_sparse_f32.hwac", cm(sparse_f32(2, 8, [0, 1, 3], [7, 0, 6]), int8(2, 2)), "=valid")
add("cmodel", "bad_magic.hwac", b"HWAX" + good_sh[4:], "magic")
add("cmodel", "version2.hwac", patch(good_sh, 4, b"\2"), "version")
add("cmodel", "unknown_flags.hwac", patch(good_sh, 8, b"\x03"), "flags")
add("cmodel", "zero_layers.hwac", patch(good_sh, 9, b"\0"), "layer count")
add("cmodel", "many_layers.hwac", patch(good_sh, 9, b"\x0a"), "layer count")
add("cmodel", "bad_activation.hwac", patch(good_sh, 10, b"\x05"), "activation")
add("cmodel", "reserved.hwac", patch(good_sh, 11, b"\x01"), "reserved")
add("cmodel", "truncated_header.hwac", good_sh[:10], "truncated")
add("cmodel", "truncated_bias.hwac", good_sh[:HDR + 20], "truncated")
add("cmodel", "truncated_stream.hwac", good_sh[:60], "truncated")
add("cmodel", "no_checksum.hwac", good_sh[:-4], "truncated")
add("cmodel", "zero_out.hwac", patch(good_sh, HDR, struct.pack("<I", 0)), "shape")
add("cmodel", "huge_out.hwac", patch(good_sh, HDR, struct.pack("<I", 2**32 - 1)), "shape")
add("cmodel", "huge_shape_in_range.hwac", patch(cm(dense(2, 2)), HDR, struct.pack("<IIBBHI", 2**31 - 1, 2**31 - 1, 0, 0, 0, 2**31 - 1)),
    "nnz")
add("cmodel", "huge_bias.hwac", patch(cm(sparse_f32(2, 8, [0, 1, 3], [7, 0, 6])), HDR,
                                      struct.pack("<IIBBHI", 2**31 - 1, 8, 1, 0, 0, 3)), "truncated")
add("cmodel", "not_chaining.hwac", cm(dense(3, 2), dense(2, 4)), "layer 1: in at byte")
add("cmodel", "unknown_form.hwac", patch(cm(dense(2, 2)), HDR + 8, b"\x06"), "form")
add("cmodel", "sparse_int8.hwac", patch(cm(int8(2, 2)), HDR + 8, b"\x05"), "form")
add("cmodel", "shared_without_bits.hwac", patch(good_sh, HDR + 9, b"\0"), "bits/n_codes")
add("cmodel", "too_many_codes.hwac", patch(good_sh, HDR + 10, struct.pack("<H", 5)), "bits/n_codes")
add("cmodel", "dense_nnz_wrong.hwac", patch(cm(dense(2, 2)), HDR + 12, struct.pack("<I", 3)), "nnz")
add("cmodel", "sparse_nnz_past_shape.hwac", patch(good_sh, HDR + 12, struct.pack("<I", 621)), "nnz")
add("cmodel", "code_past_codebook.hwac", cm(shared(2, 2, 2, [1.0, 2.0, 3.0], [0, 1, 3, 2])), "past the codebook")
add("cmodel", "huge_stream_length.hwac",
    patch(cm(shared(2, 2, 2, [1.0, 2.0, 3.0], [0, 1, 2, 2])), HDR + 16 + 8 + 12, struct.pack("<I", 2**32 - 1)), "truncated")
add("cmodel", "codes_past_stream.hwac",  # 100000 codes said, a one-byte stream
    patch(cm(shared(1000, 1000, 1, [1.0, 2.0], [1], ([0] + [1] * 1000, [3]))), HDR + 12, struct.pack("<I", 100000)),
    "cannot hold")
TAB = HDR + 16 + 8 + 12 + 4  # the Huffman table of cm(shared(2, 2, 2, 3 codes), huffman=True)
sh_h = cm(shared(2, 2, 2, [1.0, 2.0, 3.0], [0, 1, 2, 2]), huffman=True)
add("cmodel", "valid_dense_shared_huffman.hwac", sh_h, "=valid")
add("cmodel", "table_not_prefix_free.hwac", patch(sh_h, TAB, b"\x11\x10"), "not prefix-free")
add("cmodel", "table_incomplete.hwac", patch(sh_h, TAB, b"\x22\x00"), "incomplete")
lone = cm(shared(1, 2, 1, [1.0], [0, 0]), huffman=True)
add("cmodel", "table_lone_length2.hwac", patch(lone, HDR + 16 + 4 + 4 + 4, b"\x20"), "length 1")
add("cmodel", "lone_code_one.hwac", patch(lone, HDR + 16 + 4 + 4 + 4, b"\x14"), "no symbol has")
add("cmodel", "stream_ends_mid_code.hwac", fix_crc(sh_h[:TAB - 4] + struct.pack("<I", 2) + sh_h[TAB:TAB + 2] + sh_h[-4:]),
    "ends")
add("cmodel", "stream_past_end.hwac",
    fix_crc(sh_h[:TAB - 4] + struct.pack("<I", 4) + sh_h[TAB:TAB + 3] + b"\0" + sh_h[-4:]), "past its end")
add("cmodel", "nonzero_padding.hwac", patch(sh_h, TAB + 2, bytes([sh_h[TAB + 2] | 1])), "padding")
SPF = HDR + 16 + 8 + 12 + 4  # the stream of cm(sparse_f32(2, 8, [0, 1, 3], [7, 0, 6]))
spf = cm(sparse_f32(2, 8, [0, 1, 3], [7, 0, 6]))
# row counts 4 bits each (1, 2), gap width 5 bits (3), gaps 7 | 0, 5 in 3 bits each
add("cmodel", "row_count_past_in.hwac", patch(spf, SPF, b"\x9f"), "row count")
add("cmodel", "row_counts_short.hwac", patch(spf, SPF, b"\x11"), "do not add up")
add("cmodel", "gap_past_row_end.hwac", patch(spf, SPF + 2, b"\xf4"), "past the row's end")  # row 1: gaps 7, 5


def set_bits(b, at, width, v):
    b = bytearray(b)
    for i in range(width):
        bit, pos = (v >> (width - 1 - i)) & 1, at + i
        b[pos // 8] = (b[pos // 8] & ~(0x80 >> (pos % 8))) | (bit << (7 - pos % 8))
    return bytes(b)


# [1, 300], columns 0 and 299 under Huffman: row count (9 bits), gap table (1024 bits), gap 0 (1 bit), the
# escape (1 bit) and its payload 43 in 6 bits at bit 1035 of the stream at byte 44; 63 puts the column at 319
esc = cm(shared(1, 300, 1, [1.0, 2.0], [0, 1], ([0, 2], [0, 299])), huffman=True)
add("cmodel", "escape_past_row_end.hwac", fix_crc(set_bits(esc, 44 * 8 + 1035, 6, 63)), "past the row's end")
add("cmodel", "bad_checksum.hwac", good_sh[:-4] + b"\0\0\0\0", "checksum")
add("cmodel", "trailing.hwac", good_sh + b"\0", "trailing bytes")
add("cmodel", "act_mode_2.hwac", patch(cm(int8(2, 2)), HDR + 16 + 8, b"\x02"), "mode 2")
add("cmodel", "q_minus_128.hwac", cm(int8(2, 2, q=[1, -128, 3, 4])), "-128")
add("cmodel", "q_scale_zero.hwac", cm(int8(2, 2, q_scale=[0.5, 0.0])), "q_scale[1]")
add("cmodel", "static_scale_zero.hwac", cm(int8(2, 2, act_scale=0.0)), "act_scale")
add("cmodel", "nan_bias.hwac", patch(cm(dense(2, 2)), HDR + 16, struct.pack("<f", float("nan"))), "bias[0]: not finite")

# ---- onnx: protobuf wire format written by hand (field numbers from onnx.proto) ----
def pb_varint(n):
    n &= (1 << 64) - 1
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


def pb_int(field, v):
    return pb_varint(field << 3) + pb_varint(v)


def pb_bytes(field, data):
    data = data.encode() if isinstance(data, str) else data
    return pb_varint(field << 3 | 2) + pb_varint(len(data)) + data


def ox_tensor(name, dims, dtype=1, raw=None, floats=None, external=None):
    t = b"".join(pb_int(1, d) for d in dims) + pb_int(2, dtype) + pb_bytes(8, name)
    if raw is not None:
        t += pb_bytes(9, raw)
    if floats is not None:
        t += pb_bytes(4, b"".join(struct.pack("<f", f) for f in floats))
    if external is not None:
        for k, v in external:
            t += pb_bytes(13, pb_bytes(1, k) + pb_bytes(2, v))
        t += pb_int(14, 1)
    return t


def ox_value(name, dims):
    shape = b"".join(pb_bytes(1, pb_bytes(2, d) if isinstance(d, str) else pb_int(1, d)) for d in dims)
    return pb_bytes(1, name) + pb_bytes(2, pb_bytes(1, pb_int(1, 1) + pb_bytes(2, shape)))


def ox_node(op, ins, outs, name=""):
    return b"".join(pb_bytes(1, i) for i in ins) + b"".join(pb_bytes(2, o) for o in outs) + \
        pb_bytes(3, name) + pb_bytes(4, op)


def ox_model(nodes, inits=(), ins=(("X", ["batch", 4]),), outs=(("Y", ["batch", 3]),), opset=17, ir=8):
    g = b"".join(pb_bytes(1, n) for n in nodes) + pb_bytes(2, "g") + b"".join(pb_bytes(5, t) for t in inits)
    g += b"".join(pb_bytes(11, ox_value(*v)) for v in ins) + b"".join(pb_bytes(12, ox_value(*v)) for v in outs)
    return pb_int(1, ir) + pb_bytes(2, "hwadapt-regress") + pb_bytes(7, g) + \
        pb_bytes(8, pb_bytes(1, "") + pb_int(2, opset))


W = struct.pack("<12f", *[i * 0.5 for i in range(12)])
mm = [ox_node("Add", ["Y0", "B"], ["Y"], "add"), ox_node("MatMul", ["X", "W"], ["Y0"], "mm")]
good_inits = [ox_tensor("W", [4, 3], raw=W), ox_tensor("B", [3], floats=[1, 2, 3])]
add("onnx", "valid_matmul_add.onnx", ox_model(mm, good_inits), "=valid")
add("onnx", "valid_relu.onnx", ox_model([ox_node("Relu", ["X"], ["Y"])], outs=(("Y", ["batch", 4]),)), "=valid")
good = ox_model(mm, good_inits)
add("onnx", "truncated.onnx", good[:len(good) // 2], "not a valid onnx.ModelProto")
add("onnx", "empty.onnx", b"", "no IR version")
add("onnx", "raw_short.onnx", ox_model(mm, [ox_tensor("W", [4, 3], raw=W[:-1]), good_inits[1]]),
    "raw_data holds 47 bytes, the shape needs 48")
add("onnx", "raw_long.onnx", ox_model(mm, [ox_tensor("W", [4, 3], raw=W + b"\0"), good_inits[1]]),
    "raw_data holds 49 bytes")
add("onnx", "floats_short.onnx", ox_model(mm, [good_inits[0], ox_tensor("B", [3], floats=[1, 2])]),
    "float_data holds 2 values, the shape needs 3")
add("onnx", "dims_overflow.onnx", ox_model(mm, [ox_tensor("W", [1 << 62, 4], raw=W), good_inits[1]]),
    "element count overflows")
add("onnx", "input_names_nothing.onnx",
    ox_model([ox_node("Add", ["Y0", "Bogus"], ["Y"], "add"), mm[1]], good_inits),
    "node 0 'add' (Add): input 'Bogus' names no graph input")
add("onnx", "cycle.onnx", ox_model([mm[0], ox_node("MatMul", ["Y", "W"], ["Y0"], "mm")], good_inits),
    "cycle through node 0 'add' (Add)")
add("onnx", "two_producers.onnx", ox_model(mm + [ox_node("Relu", ["X"], ["Y"], "r")], good_inits),
    "output 'Y' is already produced by")
add("onnx", "opset_future.onnx", ox_model(mm, good_inits, opset=22), "opset 22 from the future: hwadapt reads up to 21")
add("onnx", "no_opset.onnx", pb_int(1, 8) + pb_bytes(7, pb_bytes(2, "g")), "without an opset import")
add("onnx", "ext_dotdot.onnx",
    ox_model(mm, [ox_tensor("W", [4, 3], external=[("location", "../w.bin")]), good_inits[1]]),
    "leaves the model's folder")
add("onnx", "ext_absolute.onnx",
    ox_model(mm, [ox_tensor("W", [4, 3], external=[("location", "/etc/passwd")]), good_inits[1]]),
    "is not a relative path")
add("onnx", "ext_past_end.onnx",
    ox_model(mm, [ox_tensor("W", [4, 3], external=[("location", "valid_relu.onnx"), ("offset", "1000000")]),
                  good_inits[1]]), "runs past its file's end")
add("onnx", "ext_wrong_length.onnx",
    ox_model(mm, [ox_tensor("W", [4, 3], external=[("location", "valid_relu.onnx"), ("length", "4")]),
                  good_inits[1]]), "external data length 4, but the shape needs 48 bytes")
deep = b""
for lvl in range(100):  # graph -> node -> attribute -> graph ... past the depth limit
    deep = pb_bytes(1, pb_bytes(5, pb_bytes(1, "a") + pb_bytes(6, deep)))
add("onnx", "deep_nesting.onnx", pb_int(1, 8) + pb_bytes(7, deep), "nest deeper than")


# ---- npy ----
def npy(header, data=b"", version=1):
    h = header.encode()
    ln = struct.pack("<H", len(h)) if version == 1 else struct.pack("<I", len(h))
    return b"\x93NUMPY" + bytes([version, 0]) + ln + h + data


F4 = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }"
add("npy", "valid_f4.npy", npy(F4, struct.pack("<2f", 1, 2)), "=valid")
add("npy", "valid_v2_scalar_u1.npy", npy("{'descr': '|u1', 'fortran_order': False, 'shape': (), }", b"\x07", 2),
    "=valid")
add("npy", "short_data.npy", npy(F4, b"\0" * 7), "data holds 7 bytes, the shape needs 8")
add("npy", "bad_magic.npy", b"\x93NUMPZ\x01\x00\x02\x00{}", "no \\x93NUMPY magic")
add("npy", "version_9.npy", npy("{}", version=9), "version 9 is not read")
add("npy", "header_past_end.npy", b"\x93NUMPY\x01\x00\xff\xff{", "truncated header")
add("npy", "big_endian.npy", npy(F4.replace("<", ">"), b"\0" * 8), "big-endian")
add("npy", "fortran.npy", npy(F4.replace("False", "True"), b"\0" * 8), "Fortran-order")
add("npy", "shape_overflow.npy",
    npy("{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904, 4), }"), "overflows")
add("npy", "shape_9_dims.npy", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1), }"),
    "more than 8 dimensions")
add("npy", "unterminated.npy", npy("{'descr': '<f4"), "descr is not a string")
add("npy", "extra_key.npy", npy(F4[:-1] + "'x': 1}"), "unexpected or repeated key 'x'")
add("npy", "bool_2.npy", npy("{'descr': '|b1', 'fortran_order': False, 'shape': (1,), }", b"\x02"),
    "bool element 0 is 2")

for fmt, items in cases.items():
    d = os.path.join(ROOT, fmt)
    os.makedirs(d, exist_ok=True)
    man = []
    for name, data, expect in items:
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
        man.append(f"{name}\t{expect}")
    keep = []
    mp = os.path.join(d, "MANIFEST")
    if os.path.exists(mp):  # keep the lines of fuzz findings (files not generated here)
        gen = {n for n, _, _ in items}
        keep = [l for l in open(mp).read().splitlines() if l and l.split("\t")[0] not in gen]
    with open(mp, "w") as f:
        f.write("\n".join(man + keep) + "\n")
print("wrote", sum(len(v) for v in cases.values()), "files")
