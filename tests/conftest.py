"""Test settings: float64, a fast-compiling PyTensor mode, and project-local
compile caches, set before PyTensor is first imported."""
import os
import pathlib

_ROOT = pathlib.Path(__file__).resolve().parent.parent
# base_compiledir holds both PyTensor's C modules and Numba's cache: in the
# project, not in ~/.pytensor
_CACHE = _ROOT / ".pytensor_cache" / "tests"
# gcc at -O0 for the C modules PyTensor compiles: CI starts from an empty
# cache, where compiling them is most of the cost, and the tests' shapes are
# too small for the optimiser to matter (tests/test_recurrent.py from an
# empty cache: 91 s, 60 s at -O0; 33 s either way with the cache filled)
os.environ.setdefault(
    "PYTENSOR_FLAGS", "base_compiledir=%s,floatX=float64,mode=FAST_COMPILE,"
    "gcc__cxxflags=-O0" % _CACHE)
# JAX's persistent compilation cache too (lasagne_lstm.backends.cache_dir)
os.environ.setdefault("LASAGNE_LSTM_CACHE", str(_CACHE))

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _restore_global_settings():
    """Tests may seed the package generator or change floatX (a training run
    sets it); never let that leak into other tests. Every test starts from
    Lasagne's default generator, ``np.random`` itself, whatever a
    module-scoped fixture set before it."""
    import numpy as np
    import pytensor
    import lasagne_lstm.random as package_random
    previous_floatx = pytensor.config.floatX
    package_random.set_rng(np.random)
    yield
    package_random.set_rng(np.random)
    pytensor.config.floatX = previous_floatx
