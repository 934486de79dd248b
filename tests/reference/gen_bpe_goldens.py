#!/usr/bin/python3
"""Hugging Face tokenizers' own results for hwadapt's byte-level BPE
(src/nn/tokenizer_bpe.c), written as compact golden files that
tests/test_nn_tokenizer_bpe.c reads without Python.

The vocabulary and merges are SmolLM2-135M-Instruct's, read from its GGUF
file (tokenizer.ggml.tokens / token_type / merges; tokenizer.ggml.pre is
"smollm"); the reference tokenizer is built from them with the PyPI package
tokenizers: a BPE model over the file's vocabulary and merges, the
pre-tokenizer SmolLM2's tokenizer.json names (Digits with individual digits,
then ByteLevel with GPT-2's split regex, no prefix space), a ByteLevel
decoder, and every control token (token_type 3) added as a special token
(not normalized, no stripping), so that it is matched whole in the text
before any split.

The lines: every line of tests/golden/tokenizer_texts.txt and
tests/golden/bpe_texts.txt (numbers, contractions in both cases, code,
whitespace runs and Unicode spaces, accents, Greek, Cyrillic, CJK, emoji,
special tokens whole and broken), then every STEP-th non-empty line of
tinyshakespeare.txt. A line is the bytes between two '\\n' (a '\\r' stays in
its line).

Outputs (little-endian):
  tests/golden/smollm2_ids.bin     per line: u32 FNV-1a-32 of its bytes,
                                   u16 token count, u16 ids
  tests/golden/bpe_splits.bin      for each pre-tokenizer of PRES in order,
                                   for each line of the two text files:
                                   u16 piece count, u16 byte length of each
                                   piece (pieces cover the line in order)
The splits come from the same package's pre-tokenizers: smollm as above,
gpt2 (ByteLevel with its regex), llama3 and qwen2 (Split with their regexes,
isolated, then ByteLevel without a regex), as those models' tokenizer.json
files define them.

It also checks that decoding each line's ids gives the line back.

Needs Debian's python3 and the PyPI packages tokenizers 0.23.3 and gguf
0.19.0, which it installs with pip (no dependencies) into
${XDG_CACHE_HOME:-~/.cache}/hwadapt-reference/. Run from the repository root:
  /usr/bin/python3 tests/reference/gen_bpe_goldens.py [GGUF] [DATA_DIR]
GGUF defaults to ${XDG_CACHE_HOME:-~/.cache}/hwadapt/models/
SmolLM2-135M-Instruct.Q4_1.gguf (scripts/install-deps.sh fetches it),
DATA_DIR to ../shared/data.
"""
import os
import struct
import subprocess
import sys

CACHE = os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache"))
for pkg, version, probe in (("tokenizers", "0.23.3", "tokenizers/__init__.py"), ("gguf", "0.19.0", "gguf/quants.py")):
    where = os.path.join(CACHE, "hwadapt-reference", f"{pkg}-{version}")
    if not os.path.exists(os.path.join(where, probe)):
        subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", where,
                               f"{pkg}=={version}"])
    sys.path.insert(0, where)

from gguf import GGUFReader  # noqa: E402
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers  # noqa: E402

STEP = 11
TEXTS = ["tests/golden/tokenizer_texts.txt", "tests/golden/bpe_texts.txt"]
GPT2 = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
LLAMA3 = (r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|"""
          r"""\s*[\r\n]+|\s+(?!\S)|\s+""")
QWEN2 = (r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"""
         r"""\s*[\r\n]+|\s+(?!\S)|\s+""")


def byte_level(use_regex):
    return pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=use_regex)


def split_then_bytes(pattern):
    return pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(pattern), behavior="isolated", invert=False),
                                    byte_level(False)])


PRES = [
    ("smollm", pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), byte_level(True)])),
    ("gpt2", byte_level(True)),
    ("llama3", split_then_bytes(LLAMA3)),
    ("qwen2", split_then_bytes(QWEN2)),
]


def fnv1a32(b):
    h = 0x811C9DC5
    for c in b:
        h = ((h ^ c) * 0x01000193) & 0xFFFFFFFF
    return h


def read_lines(path):
    with open(path, "rb") as f:
        data = f.read()
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return lines


def field(r, key):
    return r.fields[key].contents()


DEFAULT_GGUF = os.path.join(CACHE, "hwadapt", "models", "SmolLM2-135M-Instruct.Q4_1.gguf")


def smollm2_tokenizer(r):
    """The reference tokenizer of GGUFReader r (SmolLM2's file)."""
    tokens, kinds, merges = field(r, "tokenizer.ggml.tokens"), field(r, "tokenizer.ggml.token_type"), \
        field(r, "tokenizer.ggml.merges")
    assert field(r, "tokenizer.ggml.pre") == "smollm"
    assert len(set(tokens)) == len(tokens), "duplicate tokens"
    tk = Tokenizer(models.BPE(vocab={t: i for i, t in enumerate(tokens)},
                              merges=[tuple(m.split(" ")) for m in merges]))
    tk.pre_tokenizer = PRES[0][1]
    tk.decoder = decoders.ByteLevel()
    specials = [t for t, k in zip(tokens, kinds) if k == 3]
    tk.add_special_tokens([AddedToken(t, special=True, normalized=False, lstrip=False, rstrip=False,
                                      single_word=False) for t in specials])
    return tk


def main():
    gguf = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_GGUF
    data = sys.argv[2] if len(sys.argv) > 2 else "../shared/data"
    tk = smollm2_tokenizer(GGUFReader(gguf))

    text_lines = [line for path in TEXTS for line in read_lines(path)]
    shakes = [line for line in read_lines(os.path.join(data, "tinyshakespeare.txt")) if line][::STEP]
    with open("tests/golden/smollm2_ids.bin", "wb") as f:
        n_tokens = 0
        for line in text_lines + shakes:
            text = line.decode("utf-8")
            ids = tk.encode(text, add_special_tokens=False).ids
            back = tk.decode(ids, skip_special_tokens=False)
            assert back == text, (text, back)
            f.write(struct.pack(f"<IH{len(ids)}H", fnv1a32(line), len(ids), *ids))
            n_tokens += len(ids)
    print(f"smollm2_ids.bin: {len(text_lines) + len(shakes)} lines, {n_tokens} tokens")
    with open("tests/golden/bpe_splits.bin", "wb") as f:
        for name, pre in PRES:
            pieces = 0
            for line in text_lines:
                text = line.decode("utf-8")
                lens, at = [], 0
                for _, (s, e) in pre.pre_tokenize_str(text):
                    assert s == at, (name, text, s, at)
                    lens.append(len(text[s:e].encode("utf-8")))
                    at = e
                assert at == len(text)
                f.write(struct.pack(f"<H{len(lens)}H", len(lens), *lens))
                pieces += len(lens)
            print(f"bpe_splits.bin: {name}: {pieces} pieces")


if __name__ == "__main__":
    main()
