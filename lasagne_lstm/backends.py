"""PyTensor backends as a setting: the compilation mode of every step function.

=============  ===========================================================
name           PyTensor mode
=============  ===========================================================
``jax``        JAX (XLA), the default; needs static shapes, so one function
               per input shape (lengths are padded to a ladder of widths,
               see :func:`default_padding`)
``numba``      PyTensor's own default linker (Numba), full graph rewrites
``c``          the C virtual machine (``CVM``) with full rewrites; link a
               system BLAS (e.g. Debian's libopenblas-dev) for usable speed
``fast_compile``  PyTensor's FAST_COMPILE (Python/C ops, few rewrites):
               slow to run, quick to compile; for tests and debugging
=============  ===========================================================
"""
import functools
import os
import pathlib

BACKENDS = ("numba", "c", "jax", "fast_compile")
#: The default, chosen by measurement on the CPU (see benchmarks/README.md):
#: per CPU-second, JAX's XLA code trained the LSTM language model about twice
#: as fast as the C backend (whose matrix products fall back to slow code
#: when PyTensor finds no system BLAS, as with a pip install) and Numba.
DEFAULT_BACKEND = "jax"
#: Backends whose compiled functions need every input shape fixed.
STATIC_SHAPE_BACKENDS = ("jax",)
#: Environment variable that replaces the default backend for a process.
BACKEND_VARIABLE = "LASAGNE_LSTM_BACKEND"
#: backend -> functions registering its code for ops defined elsewhere in the
#: package, called each time its mode is asked for (see :func:`on_mode`).
_REGISTRATIONS = {}


def default_backend():
    """The backend used when none is named: ``$LASAGNE_LSTM_BACKEND`` if set,
    else :data:`DEFAULT_BACKEND`.

    Raises
    ------
    ValueError
        If the variable names no backend.
    """
    name = os.environ.get(BACKEND_VARIABLE) or DEFAULT_BACKEND
    if name not in BACKENDS:
        raise ValueError("%s=%s is not a backend: expected one of %s"
                         % (BACKEND_VARIABLE, name, ", ".join(BACKENDS)))
    return name


def cache_dir():
    """Folder of JAX's persistent compilation cache. (PyTensor keeps its C
    modules and Numba's cache under its own ``base_compiledir``.)"""
    root = os.environ.get("LASAGNE_LSTM_CACHE")
    if root:
        return pathlib.Path(root)
    return pathlib.Path.home() / ".cache" / "lasagne_lstm" / "compiled"


def get_mode(backend):
    """Return the PyTensor compilation mode for a backend name.

    Raises
    ------
    ValueError
        For an unknown backend name.
    ImportError
        If the JAX backend is asked for and JAX is not installed.
    """
    from pytensor.compile.mode import Mode, get_mode as pytensor_get_mode
    if backend == "numba":
        return pytensor_get_mode("NUMBA")
    if backend == "c":
        return _inlining_symbolic_ops(Mode(linker="cvm", optimizer="fast_run"))
    if backend == "fast_compile":
        return _inlining_symbolic_ops(pytensor_get_mode("FAST_COMPILE"))
    if backend == "jax":
        try:
            import jax
        except ImportError as exc:
            raise ImportError("the jax backend needs JAX: pip install jax "
                              "(jax[cuda12] for a GPU)") from exc
        _enable_jax_cache(jax)
        _register_jax_increments()
        _run_registrations(backend)
        import pytensor
        # float64 needs x64 (else JAX computes in float32); float32 needs it
        # off again after a float64 run in the same process, or Python floats
        # in the graph turn into float64 and break the scan's carry types
        jax.config.update("jax_enable_x64", pytensor.config.floatX == "float64")
        return pytensor_get_mode("JAX")
    raise ValueError("unknown backend %r: expected one of %s"
                     % (backend, ", ".join(BACKENDS)))


#: After PyTensor's own specialising rewrites (which find ``log(softmax(x))``
#: and the like by the symbolic ops' names), before element-wise fusion.
_INLINE_POSITION = 48.9


def _inlining_symbolic_ops(mode):
    """``mode`` with PyTensor's symbolic ops (``Softmax``, ``LogSoftmax``,
    ``XLogY``, ...) replaced by their inner graphs.

    Why: a linker that is not Numba's or JAX's runs such an op by compiling
    its inner graph as a function in PyTensor's *default* mode, which is
    Numba: a C or FAST_COMPILE run would compute its softmax with Numba
    (and wait for Numba's compiler on an empty cache). Inlined, the op runs
    on the backend that was asked for.
    """
    return mode.register((_symbolic_op_inliner(), _INLINE_POSITION))


@functools.cache
def _symbolic_op_inliner():
    """The rewrite of :func:`_inlining_symbolic_ops`, made once per process."""
    from pytensor.compile.builders import SymbolicOp
    from pytensor.graph.rewriting.basic import in2out, node_rewriter
    from pytensor.tensor.rewriting.ofg import inline_ofg_node

    @node_rewriter([SymbolicOp])
    def local_inline_symbolic_op(fgraph, node):
        return inline_ofg_node(node)

    return in2out(local_inline_symbolic_op, name="inline_symbolic_ops")


@functools.cache
def _register_jax_increments():
    """PyTensor's JAX code for ``AdvancedIncSubtensor1`` (``x[idx] += y``,
    an embedding's gradient) refuses one index with one row of ``y``: its
    runtime check compares ``y``'s indexed axis with ``x``'s, so a
    one-token sequence failed with "Runtime broadcasting not allowed". The
    same code, checking that axis against the indices only."""
    from pytensor.link.jax.dispatch import jax_funcify
    from pytensor.tensor.subtensor import AdvancedIncSubtensor1

    @jax_funcify.register(AdvancedIncSubtensor1)
    def _jax_advanced_inc_subtensor1(op, node, **kwargs):
        y_broadcastable = node.inputs[1].broadcastable

        def increment(x, y, indices):
            if y.ndim and (
                    (not y_broadcastable[0] and y.shape[0] == 1 and indices.shape[0] != 1)
                    or any(not b and n == 1 and n != m for b, n, m in zip(
                        y_broadcastable[1:], y.shape[1:], x.shape[x.ndim - y.ndim + 1:]))):
                raise ValueError(op._runtime_broadcast_error_msg)
            if op.set_instead_of_inc:
                return x.at[indices].set(y)
            return x.at[indices].add(y)
        return increment


def on_mode(backend, register):
    """Call ``register`` (which registers ``backend``'s code for an op, and
    must be safe to call again) whenever that backend's mode is asked for:
    the backend's library is then imported only by processes that use it."""
    _REGISTRATIONS.setdefault(backend, []).append(register)


def _run_registrations(backend):
    for register in _REGISTRATIONS.get(backend, ()):
        register()


def _enable_jax_cache(jax):
    folder = cache_dir() / "jax"
    folder.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)


def needs_static_shapes(backend):
    """Whether a backend compiles one function per input shape."""
    return backend in STATIC_SHAPE_BACKENDS


def runs_on_host(backend=None):
    """Whether ``backend`` (default: :func:`default_backend`) runs its
    compiled functions on the host's CPU rather than on an accelerator
    (JAX with a GPU)."""
    backend = backend or default_backend()
    if backend != "jax":
        return True
    import jax
    return jax.default_backend() == "cpu"


def default_padding(backend):
    """``(pad_multiple, pad_growth)`` for batches fed to ``backend``.

    Dynamic-shape backends pad each batch to its longest row. A static-shape
    backend compiles one function per width, so widths come from the ladder
    4, 8, 12, 16, 24, 32, 44, 60, 80, ... (see :func:`lasagne_lstm.utils.ladder_width`):
    on the main job's Shakespeare data that is 8 widths and 15% padding, where
    plain multiples of 8 give 8 widths and 24% (``lasagne-lstm data stats
    shakespeare --max-sequences 20000 --max-len 60 --batch-size 32
    --pad-multiple 4 --pad-growth 1.3``, and ``--pad-multiple 8``).
    """
    return (4, 1.3) if needs_static_shapes(backend) else (1, 1.0)
