"""Test settings: float64, a fast-compiling PyTensor mode, and a project-local
compile cache, set before PyTensor is first imported."""
import os
import pathlib

_ROOT = pathlib.Path(__file__).resolve().parent.parent
os.environ.setdefault(
    "PYTENSOR_FLAGS",
    "compiledir=%s,floatX=float64,mode=FAST_COMPILE"
    % (_ROOT / ".pytensor_cache" / "tests"))
