"""Test settings: float64, a fast-compiling PyTensor mode, and a project-local
compile cache, set before PyTensor is first imported."""
import os
import pathlib

_ROOT = pathlib.Path(__file__).resolve().parent.parent
os.environ.setdefault(
    "PYTENSOR_FLAGS",
    "compiledir=%s,floatX=float64,mode=FAST_COMPILE"
    % (_ROOT / ".pytensor_cache" / "tests"))

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _restore_package_rng():
    """Tests may seed the package generator; never let that leak into others."""
    import lasagne_lstm.random as package_random
    previous = package_random.get_rng()
    yield
    package_random.set_rng(previous)
