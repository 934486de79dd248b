#!/usr/bin/python3
"""SentencePiece's own token ids for hwadapt's tokenizer test.

For each GGUF vocabulary below, rebuilds a SentencePiece BPE model
(sentencepiece.ModelProto) from the file's tokenizer.ggml.tokens / scores /
token_type, tokenizes text lines with the SentencePiece library, and writes
the ids to tests/golden/spm_ids_<n>.txt, which tests/test_nn_tokenizer.c
compares against hwa_tokenizer_encode without Python.

The lines: a spread sample of tinyshakespeare.txt's non-empty lines (every
STEP-th) from the data directory, and every line of the committed
tests/golden/tokenizer_texts.txt (accents, CJK, Cyrillic, Greek, emoji,
combining marks, tabs and runs of spaces, digits, code, and runs like "aaaa"
or "abababab" where merges of equal score overlap, so that SentencePiece's
leftmost-first rule decides).

The model is the one Llama-2's tokenizer.model describes: BPE with byte
fallback; normalizer "identity" (no Unicode normalization: no NFKC), a dummy
prefix "\u2581" added before the text, whitespace escaped as "\u2581" and extra
whitespace kept (remove_extra_whitespaces false). GGUF does not carry the
normalizer settings; hwadapt, like llama.cpp, tokenizes with these for both
vocabularies. (stories260K's original tok512 model was trained by llama2.c
with SentencePiece's default remove_extra_whitespaces true, which collapses
runs of spaces and strips leading and trailing ones; the GGUF copy does not
say so and hwadapt does not do it.)

Golden format, one text line per input line:
  <source>:<line number> <FNV-1a 32 of the line's bytes, 8 hex digits> <ids...>
(ids without BOS; the line number is 1-based in its file, counting every line.)

Needs Debian's python3 with python3-sentencepiece (0.1.97) and
python3-protobuf (apt-get install python3-sentencepiece python3-protobuf).
Run from the repository root:
  /usr/bin/python3 tests/reference/gen_tokenizer_goldens.py [DATA_DIR]
DATA_DIR defaults to ../shared/data. The GGUF file is read here from the
format's description (GGUF v3), not with a library.
"""
import os
import struct
import sys

import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2 as spm_pb

VOCABS = [
    ("llama-2-tiny-random/llama-2-tiny-random.gguf", "tests/golden/spm_ids_32000.txt"),
    ("stories260K/stories260K.gguf", "tests/golden/spm_ids_512.txt"),
]
SHAKESPEARE = "tinyshakespeare.txt"
TEXTS = "tests/golden/tokenizer_texts.txt"
STEP = 11  # every 11th non-empty line of tinyshakespeare: about 3,000 lines


class GGUFReader:
    """The key-value section of a GGUF v2/v3 file: magic "GGUF", u32 version,
    u64 tensor count, u64 key-value count, then per key-value a string key,
    a u32 value type and the value. Strings are a u64 length and bytes;
    arrays an element type (u32), a u64 count and the elements."""

    FIXED = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
    STRING, ARRAY = 8, 9

    def __init__(self, path):
        with open(path, "rb") as f:
            self.buf = f.read()
        self.at = 0
        if self.buf[:4] != b"GGUF":
            raise ValueError(f"{path}: not a GGUF file")
        self.at = 4
        version = self.take("I")
        if version not in (2, 3):
            raise ValueError(f"{path}: GGUF version {version}")
        self.take("Q")  # tensor count: the tensors are not needed
        self.meta = {}
        for _ in range(self.take("Q")):
            key = self.text().decode("utf-8")
            self.meta[key] = self.value(self.take("I"))

    def take(self, code):
        fmt = "<" + code
        (v,) = struct.unpack_from(fmt, self.buf, self.at)
        self.at += struct.calcsize(fmt)
        return v

    def text(self):
        n = self.take("Q")
        if self.at + n > len(self.buf):
            raise ValueError("GGUF string runs past the end of the file")
        s = self.buf[self.at:self.at + n]
        self.at += n
        return s

    def value(self, kind):
        if kind in self.FIXED:
            return self.take(self.FIXED[kind])
        if kind == self.STRING:
            return self.text()
        if kind == self.ARRAY:
            elem = self.take("I")
            return [self.value(elem) for _ in range(self.take("Q"))]
        raise ValueError(f"GGUF value type {kind}")


def spm_model_from_gguf(path):
    """A SentencePiece processor holding the GGUF file's vocabulary."""
    meta = GGUFReader(path).meta
    if meta.get("tokenizer.ggml.model") != b"llama":
        raise ValueError(f"{path}: not a SentencePiece ('llama') vocabulary")
    tokens = meta["tokenizer.ggml.tokens"]
    scores = meta["tokenizer.ggml.scores"]
    kinds = meta["tokenizer.ggml.token_type"]
    assert len(tokens) == len(scores) == len(kinds)
    m = spm_pb.ModelProto()
    for tok, score, kind in zip(tokens, scores, kinds):
        p = m.pieces.add()
        p.piece = tok.decode("utf-8")
        p.score = score
        # GGUF's token types are numbered as SentencePiece's piece types
        # (1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte).
        p.type = kind
    t = m.trainer_spec
    t.model_type = spm_pb.TrainerSpec.BPE
    t.vocab_size = len(tokens)
    t.byte_fallback = True
    t.unk_id = meta.get("tokenizer.ggml.unknown_token_id", 0)
    t.bos_id = meta.get("tokenizer.ggml.bos_token_id", 1)
    t.eos_id = meta.get("tokenizer.ggml.eos_token_id", 2)
    t.pad_id = -1
    n = m.normalizer_spec
    n.name = "identity"
    n.precompiled_charsmap = b""
    n.add_dummy_prefix = bool(meta.get("tokenizer.ggml.add_space_prefix", True))
    n.remove_extra_whitespaces = False
    n.escape_whitespaces = True
    sp = spm.SentencePieceProcessor()
    sp.LoadFromSerializedProto(m.SerializeToString())
    assert sp.GetPieceSize() == len(tokens)
    return sp


def fnv1a32(data):
    h = 0x811C9DC5
    for b in data:
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def read_lines(path):
    with open(path, "rb") as f:
        data = f.read()
    if data.endswith(b"\n"):
        data = data[:-1]
    return data.split(b"\n")


def sample(data_dir, root):
    """(source label, 1-based line number, line bytes) of every line tested."""
    out = []
    nonempty = 0
    for i, line in enumerate(read_lines(os.path.join(data_dir, SHAKESPEARE)), 1):
        if not line:
            continue
        if nonempty % STEP == 0:
            out.append((SHAKESPEARE, i, line))
        nonempty += 1
    for i, line in enumerate(read_lines(os.path.join(root, TEXTS)), 1):
        if line:
            out.append((os.path.basename(TEXTS), i, line))
    return out


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    data_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "..", "shared", "data")
    lines = sample(data_dir, root)
    for rel, golden in VOCABS:
        sp = spm_model_from_gguf(os.path.join(data_dir, rel))
        rows = [
            f"# SentencePiece {spm.__version__} ids (no BOS) of each line with the vocabulary of {rel};",
            "# written by tests/reference/gen_tokenizer_goldens.py, do not edit.",
            "# <source>:<line> <FNV-1a 32 of the line> <ids...>",
        ]
        n_ids = 0
        for src, no, line in lines:
            ids = sp.EncodeAsIds(line.decode("utf-8"))
            n_ids += len(ids)
            rows.append(f"{src}:{no} {fnv1a32(line):08x} " + " ".join(map(str, ids)))
        with open(os.path.join(root, golden), "w", encoding="ascii", newline="\n") as f:
            f.write("\n".join(rows) + "\n")
        print(f"{golden}: {len(lines)} lines, {n_ids} ids")


if __name__ == "__main__":
    main()
