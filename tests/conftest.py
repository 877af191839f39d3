"""Test settings: float64, a fast-compiling PyTensor mode, and project-local
compile caches, set before PyTensor is first imported."""
import os
import pathlib

_ROOT = pathlib.Path(__file__).resolve().parent.parent
os.environ.setdefault(
    "PYTENSOR_FLAGS",
    "compiledir=%s,floatX=float64,mode=FAST_COMPILE"
    % (_ROOT / ".pytensor_cache" / "tests"))
# JAX's persistent compilation cache too (lasagne_lstm.backends.cache_dir)
os.environ.setdefault("LASAGNE_LSTM_CACHE", str(_ROOT / ".pytensor_cache" / "tests"))

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _restore_global_settings():
    """Tests may seed the package generator or change floatX (a training run
    sets it); never let that leak into other tests."""
    import pytensor
    import lasagne_lstm.random as package_random
    previous_rng = package_random.get_rng()
    previous_floatx = pytensor.config.floatX
    yield
    package_random.set_rng(previous_rng)
    pytensor.config.floatX = previous_floatx
