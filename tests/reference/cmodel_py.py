"""An independent Python writer of hwadapt's compressed-model file
(docs/formats.md, "Compressed model"), written from the document, and the
length-limited Huffman code lengths it uses (heapq). Used by
gen_cmodel_goldens.py and tests/fuzz/make_regress.py."""
import heapq
import struct
import zlib
from collections import Counter

MAX_LEN = 15


def huffman_lengths(counts, max_len=MAX_LEN):
    """Code lengths: Huffman's merges with ties to the lower id (leaves are
    the symbols, merged nodes numbered after them), the depths limited as in
    ITU T.81 annex K.3, handed out shortest first by decreasing count."""
    n = len(counts)
    used = [s for s in range(n) if counts[s]]
    lens = [0] * n
    if len(used) <= 1:
        for s in used:
            lens[s] = 1
        return lens
    heap = [(counts[s], s) for s in used]
    heapq.heapify(heap)
    kids, nid = {}, n
    while len(heap) > 1:
        wa, a = heapq.heappop(heap)
        wb, b = heapq.heappop(heap)
        kids[nid] = (a, b)
        heapq.heappush(heap, (wa + wb, nid))
        nid += 1
    bl = Counter()
    todo = [(heap[0][1], 0)]
    while todo:
        node, d = todo.pop()
        if node in kids:
            todo += [(kids[node][0], d + 1), (kids[node][1], d + 1)]
        else:
            bl[d] += 1
    for i in range(max(bl), max_len, -1):
        while bl[i] > 0:
            j = i - 2
            while bl[j] == 0:
                j -= 1
            bl[i] -= 2
            bl[i - 1] += 1
            bl[j + 1] += 2
            bl[j] -= 1
    order = sorted(used, key=lambda s: (-counts[s], s))
    k = 0
    for length in range(1, max_len + 1):
        for _ in range(bl[length]):
            lens[order[k]] = length
            k += 1
    return lens


def canonical_codes(lens):
    codes, code = {}, 0
    for length in range(1, MAX_LEN + 1):
        for s in range(len(lens)):
            if lens[s] == length:
                codes[s] = (code, length)
                code += 1
        code <<= 1
    return codes


class Bits:
    def __init__(self):
        self.bits = []

    def put(self, v, width):
        self.bits += [(v >> (width - 1 - i)) & 1 for i in range(width)]

    def bytes(self):
        b = self.bits + [0] * (-len(self.bits) % 8)
        return bytes(int("".join(map(str, b[i:i + 8])), 2) for i in range(0, len(b), 8))


def f32s(xs):
    return struct.pack("<%df" % len(xs), *xs)


def table(bits, counts):
    lens = huffman_lengths(counts)
    for x in lens:
        bits.put(x, 4)
    return canonical_codes(lens)


def layer_bytes(L, huffman):
    """L: dict out, in, bias, and one of values / (bits, codebook, codes) /
    (q, q_scale, act, act_zero, act_scale); sparse layers have row_ptr, col."""
    out, inn = L["out"], L["in"]
    sparse = "row_ptr" in L
    kind = 1 if "codebook" in L else 2 if "q" in L else 0
    nnz = L["row_ptr"][-1] if sparse else out * inn
    b = struct.pack("<IIBBHI", out, inn, (1 if sparse else 0) | kind << 1, L.get("bits", 0),
                    len(L.get("codebook", [])), nnz)
    b += f32s(L["bias"])
    if kind == 2:
        b += struct.pack("<BB", L["act"], L["act_zero"]) + f32s([L["act_scale"]]) + f32s(L["q_scale"])
        b += struct.pack("<%db" % nnz, *L["q"])
    elif kind == 1:
        b += f32s(L["codebook"])
    else:
        b += f32s(L["values"])
    if not sparse and kind != 1:
        return b
    s = Bits()
    if sparse:
        rp, col = L["row_ptr"], L["col"]
        for r in range(out):
            s.put(rp[r + 1] - rp[r], inn.bit_length())
        gaps = []
        for r in range(out):
            nxt = 0
            for k in range(rp[r], rp[r + 1]):
                gaps.append(col[k] - nxt)
                nxt = col[k] + 1
        if huffman:
            esc_w = (inn - 256).bit_length() if inn > 256 else 0
            codes = table(s, [sum(1 for g in gaps if min(g, 255) == sym) for sym in range(256)])
            for g in gaps:
                c, n = codes[min(g, 255)]
                s.put(c, n)
                if g >= 255:
                    s.put(g - 255, esc_w)
        else:
            w = max(gaps, default=0).bit_length()
            s.put(w, 5)
            for g in gaps:
                s.put(g, w)
    if kind == 1:
        if huffman:
            codes = table(s, [L["codes"].count(c) for c in range(len(L["codebook"]))])
            for x in L["codes"]:
                c, n = codes[x]
                s.put(c, n)
        else:
            for x in L["codes"]:
                s.put(x, L["bits"])
    sb = s.bytes()
    return b + struct.pack("<I", len(sb)) + sb


def cmodel_bytes(layers, activation=0, huffman=False, crc=None):
    b = b"HWAC" + struct.pack("<IBBBB", 1, 1 if huffman else 0, len(layers), activation, 0)
    for L in layers:
        b += layer_bytes(L, huffman)
    return b + struct.pack("<I", zlib.crc32(b) if crc is None else crc)


def fix_crc(b):
    """b with its last 4 bytes replaced by the CRC-32 of the rest."""
    return b[:-4] + struct.pack("<I", zlib.crc32(b[:-4]))
