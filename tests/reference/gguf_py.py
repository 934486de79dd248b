"""gguf-py (the `gguf` package on PyPI, pure Python) for the reference
scripts: installed with pip into
${XDG_CACHE_HOME:-~/.cache}/hwadapt-reference/gguf-<VERSION> when absent, and
put first on sys.path. Import this module before `import gguf`."""
import os
import subprocess
import sys

VERSION = "0.19.0"
cache = os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "hwadapt-reference",
                     f"gguf-{VERSION}")
if not os.path.exists(os.path.join(cache, "gguf", "quants.py")):
    subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", cache,
                           f"gguf=={VERSION}"])
sys.path.insert(0, cache)
