#!/usr/bin/python3
"""Writes tests/fixtures/imatrix/gguf-py.imatrix: an importance matrix in
llama.cpp's GGUF form made with gguf-py's own writer (the `gguf` package on
PyPI, 0.19.0, installed with pip into
${XDG_CACHE_HOME:-~/.cache}/hwadapt-reference/gguf-0.19.0 when absent),
laid out as llama.cpp's imatrix tool lays it out: general.type "imatrix",
imatrix.datasets, imatrix.chunk_count, imatrix.chunk_size (u32), and per
weight <name>.in_sum2 (f32, ne [n, n_mat]) and <name>.counts (f32, ne
[1, n_mat]). tests/test_io_imatrix.c reads it and checks the importance
sum / count against the values below.

usage: /usr/bin/python3 tests/reference/gen_imatrix_fixture.py"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gguf_py  # noqa: E402,F401  (gguf-py on sys.path, installed when absent)

import numpy as np  # noqa: E402
import gguf  # noqa: E402

here = os.path.dirname(os.path.abspath(__file__))
out = os.path.join(here, "..", "fixtures", "imatrix", "gguf-py.imatrix")
os.makedirs(os.path.dirname(out), exist_ok=True)
w = gguf.GGUFWriter(out, arch=None)  # no general.architecture: an imatrix is not a model
w.add_string("general.type", "imatrix")
w.add_array("imatrix.datasets", ["wiki.train.raw", "code.txt"])
w.add_uint32("imatrix.chunk_count", 7)
w.add_uint32("imatrix.chunk_size", 512)
# numpy shapes are outermost first: (n_mat, n) gives ne [n, n_mat]
w.add_tensor("blk.0.attn_q.weight.in_sum2", np.array([[2.0, 4.0, 6.0, 8.0]], dtype=np.float32))
w.add_tensor("blk.0.attn_q.weight.counts", np.array([[4.0]], dtype=np.float32))
w.add_tensor("blk.0.ffn_down.weight.in_sum2", np.array([[5.0, 0.0, 3.0]], dtype=np.float32))
w.add_tensor("blk.0.ffn_down.weight.counts", np.array([[0.0]], dtype=np.float32))  # never reached
w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()
print("wrote", out)
