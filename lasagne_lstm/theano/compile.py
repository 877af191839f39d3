"""``theano.function`` on the project's backends.

PyTensor compiles a graph once for all input shapes on its Numba and C
backends. JAX (XLA) needs every shape known while the graph is converted:
a Lasagne graph with dynamic shapes stops at its first ``reshape`` there
(``NotImplementedError: JAX requires concrete values for the shape
parameter``). :func:`function` hides the difference: on a static-shape
backend it compiles one *specialisation* per signature of input shapes, each
from the same graph with the inputs replaced by variables of static shape,
so PyTensor folds every shape into a constant before JAX sees it.

Compiling those specialisations is most of a short run's start-up (about
3 s each for an LSTM language model's training step). :func:`compile_ahead`
compiles the ones a run will need in background threads, ahead of their
first call, while the process trains on the shapes it already has.
"""
import atexit
import collections
import contextlib
import sys
import threading
import time
import warnings
import weakref
from collections import OrderedDict

import numpy as np
import pytensor
import pytensor.tensor as pt
from pytensor.compile.io import In, Out
from pytensor.graph.basic import Variable
from pytensor.graph.replace import clone_replace
from pytensor.graph.rewriting.basic import in2out, node_rewriter
from pytensor.tensor.shape import Shape, Shape_i
from pytensor.tensor.type import TensorType

from .. import backends

__all__ = ["function", "In", "Out", "BackendFunction", "compile_ahead", "AheadOfUse"]

#: Specialisations a function keeps before dropping the least recently used.
MAX_SHAPES = 64
#: Distinct input shapes after which a function warns that it keeps compiling.
WARN_SHAPES = 16
#: One compilation at a time in the process, whichever thread asks: PyTensor's
#: rewriting and the warning filters set while tracing are not made for
#: threads. Running compiled functions needs no lock.
_COMPILE_LOCK = threading.RLock()


def function(inputs, outputs=None, mode=None, updates=None, givens=None,
             no_default_updates=False, accept_inplace=False, name=None,
             rebuild_strict=True, allow_input_downcast=None, profile=None,
             on_unused_input=None, backend=None, max_shapes=MAX_SHAPES,
             warn_shapes=WARN_SHAPES, lazy=False, device_outputs=False):
    """Compile a graph into a callable, as ``theano.function`` does.

    Parameters
    ----------
    inputs : list of variables or :class:`In`
        The function's arguments, in call order.
    outputs : variable, :class:`Out`, list of them, or None
        What a call returns (a single value for a single output, a list for
        a list).
    mode : str or PyTensor ``Mode``, optional
        A backend name of :mod:`lasagne_lstm.backends` (``'jax'``,
        ``'numba'``, ``'c'``, ``'fast_compile'``), a PyTensor mode name
        (``'FAST_RUN'``, ``'FAST_COMPILE'``, ``'JAX'``, ...) or a ``Mode``.
        Default: ``backend``, else the project's default backend
        (:func:`lasagne_lstm.backends.default_backend`).
    updates : list of (shared, expression) pairs or dict
        Values written into shared variables after each call.
    givens : list of (variable, expression) pairs or dict
        Substitutions made in the graph before compiling.
    no_default_updates, accept_inplace, rebuild_strict, allow_input_downcast, profile, on_unused_input, name
        As for ``theano.function`` (passed on to ``pytensor.function``).
    backend : str, optional
        A backend name, used when ``mode`` is not given.
    max_shapes : int
        On a static-shape backend, how many specialisations are kept (the
        least recently used is dropped beyond that).
    warn_shapes : int
        On a static-shape backend, warn once (one line on stderr) when this
        many distinct input shapes have been compiled, naming
        :func:`lasagne_lstm.utils.pad_to_ladder`.
    lazy : bool
        Compile on the first call on dynamic-shape backends too (Theano
        compiles at once, so graph errors surface at this call).
    device_outputs : bool
        Return the backend's own output arrays (JAX arrays, left where they
        were computed and not waited for) instead of NumPy copies: for
        outputs that are handed to other compiled functions.

    Returns
    -------
    BackendFunction
        Called like the compiled Theano function (positional arguments or
        keyword arguments by input name).
    """
    return BackendFunction(inputs, outputs, _resolve_mode(mode, backend),
                           dict(updates=updates, givens=givens,
                                no_default_updates=no_default_updates,
                                accept_inplace=accept_inplace, name=name,
                                rebuild_strict=rebuild_strict,
                                allow_input_downcast=allow_input_downcast,
                                profile=profile, on_unused_input=on_unused_input),
                           max_shapes=max_shapes, warn_shapes=warn_shapes, lazy=lazy,
                           device_outputs=device_outputs)


def _resolve_mode(mode, backend):
    """``(pytensor mode, needs static shapes)`` for the arguments of :func:`function`."""
    if mode is None:
        name = backend or backends.default_backend()
        return backends.get_mode(name), backends.needs_static_shapes(name)
    if isinstance(mode, str) and mode in backends.BACKENDS:
        return backends.get_mode(mode), backends.needs_static_shapes(mode)
    from pytensor.compile.mode import get_mode
    from pytensor.link.jax.linker import JAXLinker
    mode = get_mode(mode)
    return mode, isinstance(mode.linker, JAXLinker)


@contextlib.contextmanager
def _quiet_tracing():
    """Silence two notes JAX prints while tracing that change no result: a
    float64 accumulator PyTensor asks for while x64 is off (JAX sums in
    float32), and each runtime assertion PyTensor drops for JAX."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Explicitly requested dtype")
        warnings.filterwarnings("ignore", message="Skipping Assert")
        yield


def _needs_values(exc):
    """Whether a first call failed because JAX met a shape it could only
    know from input values (its messages vary with the operation)."""
    text = str(exc)
    return isinstance(exc, (NotImplementedError, IndexError, TypeError)) and any(
        word in text for word in ("JAX requires", "concrete", "Tracer", "static integers"))


def _with_known_shapes(mode, shapes):
    """``mode`` with rewrites that turn the shape of the k-th input of the
    compiled graph into the constant ``shapes[k]``, at several points of the
    rewriting (shape inference keeps making new ``Shape_i`` of inputs)."""
    n_inputs = len(shapes)

    @node_rewriter([Shape, Shape_i])
    def local_known_input_shape(fgraph, node):
        x = node.inputs[0]
        if x not in fgraph.inputs[:n_inputs]:
            return None
        shape = shapes[fgraph.inputs.index(x)]
        if isinstance(node.op, Shape):
            return [pt.constant(np.array(shape, dtype="int64"))]
        return [pt.constant(np.int64(shape[node.op.i]))]

    for position in _KNOWN_SHAPE_POSITIONS:
        mode = mode.register((in2out(local_known_input_shape,
                                     name="known_input_shape_%g" % position), position))
    return mode


#: Before canonicalisation, then after each of its main phases (PyTensor's
#: optimizer database positions).
_KNOWN_SHAPE_POSITIONS = (0.9, 1.1, 1.55, 1.99, 2.5)


class _HostValues:
    """A Numba function that reads shared values which JAX functions may
    have left as JAX arrays (Numba takes NumPy arrays only)."""

    def __init__(self, fn):
        self.fn = fn
        self.shared = [i.variable for i in fn.maker.inputs if getattr(i, "shared", False)]

    def __call__(self, *args):
        for var in self.shared:
            if _is_jax_array(var.container.storage[0]):
                var.set_value(np.asarray(var.container.storage[0]))
        return self.fn(*args)


def _is_jax_array(value):
    return type(value).__module__.startswith("jax")  # jax and jaxlib


def _host_outputs(result):
    """A JAX function's outputs as Theano returns them: writable NumPy arrays
    (0-d for scalars), not JAX arrays, which are immutable, unhashable, and
    stay JAX arrays through NumPy calls such as ``np.argmax``."""
    if isinstance(result, list):
        return [np.array(v) if _is_jax_array(v) else v for v in result]
    return np.array(result) if _is_jax_array(result) else result


def _variable(item):
    """The variable behind an input or output given as :class:`In`/:class:`Out`."""
    return item.variable if isinstance(item, (In, Out)) else item


class BackendFunction:
    """A compiled function: one PyTensor function on dynamic-shape backends,
    one per signature of input shapes on static-shape ones (JAX).

    Attributes
    ----------
    functions : OrderedDict
        The compiled PyTensor functions by input-shape signature (``None``
        for the single dynamic-shape function), most recently used last.
    compile_seconds : float
        Time calls spent compiling, first calls included (JAX compiles on the
        first call), or waiting for a compilation ahead of use.
    ahead_seconds : float
        Time spent compiling ahead of use (:func:`compile_ahead`), in the
        background.
    shapes_seen : int
        Distinct input-shape signatures compiled so far (evicted ones too).
    """

    def __init__(self, inputs, outputs, mode, options, max_shapes=MAX_SHAPES,
                 warn_shapes=WARN_SHAPES, lazy=False, device_outputs=False):
        if isinstance(inputs, (Variable, In)):
            raise TypeError("function's inputs must be a list of variables, "
                            "not a single %s" % type(inputs).__name__)
        self.inputs = list(inputs)
        self.outputs = outputs
        self.mode, self.static = mode
        self.options = options
        self.name = options.get("name")
        self.max_shapes = int(max_shapes)
        self.warn_shapes = int(warn_shapes)
        self._outputs = (lambda result: result) if device_outputs else _host_outputs
        self.functions = OrderedDict()
        self.compile_seconds = 0.0
        self.ahead_seconds = 0.0
        self.shapes_seen = 0
        self._functions_lock = threading.Lock()
        # signature -> Event, set once its compilation ahead of use has ended
        self._ahead = {}
        self._warned = False
        self._variables = [_variable(i) for i in self.inputs]
        self._names = [v.name for v in self._variables]
        self._defaults = [i.value if isinstance(i, In) else None for i in self.inputs]
        if not self.static and not lazy:
            # compiled now, as Theano does, so graph errors surface here
            self._compile_dynamic()

    def _compile_dynamic(self):
        start = time.perf_counter()
        fn = self.functions[None] = self._compile(self.inputs, self.outputs, self.options)
        self.compile_seconds += time.perf_counter() - start
        return fn

    @property
    def compiled(self):
        """How many compiled functions are held now."""
        return len(self.functions)

    def __call__(self, *args, **kwargs):
        if kwargs or len(args) != len(self.inputs):
            args = self._positional(args, kwargs)
        if not self.static:
            fn = self.functions.get(None) or self._compile_dynamic()
            return fn(*args)
        key = tuple(np.shape(a) for a in args)
        fn = self._lookup(key)
        if fn is None:
            pending = self._ahead.get(key)
            if pending is not None:
                start = time.perf_counter()
                pending.wait()
                self.compile_seconds += time.perf_counter() - start
            # looked up again after the claim is gone: the background thread
            # stores the function before it drops the claim
            fn = self._lookup(key)
        if fn is not None:
            return self._outputs(fn(*args))
        start = time.perf_counter()
        try:
            with _COMPILE_LOCK, _quiet_tracing():
                fn = self._specialise(key)
                # JAX compiles on the first call: count it as compiling
                result = fn(*args)
        except Exception as exc:
            if not _needs_values(exc):
                raise
            self.compile_seconds += time.perf_counter() - start  # the failed try
            return self._fall_back(exc)(*args)
        self._remember(key, fn)
        self.compile_seconds += time.perf_counter() - start
        return self._outputs(result)

    def _fall_back(self, exc):
        """Switch to a dynamic-shape backend: shapes computed from input
        *values* (``arange(n)``, ``x[i:j]``) cannot be specialised by shape."""
        sys.stderr.write(
            "lasagne_lstm.theano: %s has shapes that depend on input values, "
            "which JAX cannot compile (%s); it runs on the numba backend\n"
            % (self._label(), str(exc).strip().splitlines()[0][:120]))
        self.mode, self.static = backends.get_mode("numba"), False
        self.functions.clear()
        fn = self.functions[None] = _HostValues(self._compile_dynamic())
        return fn

    def _positional(self, args, kwargs):
        """Arguments in input order, from positions, input names and defaults."""
        values = list(args) + [None] * (len(self.inputs) - len(args))
        if len(args) > len(self.inputs):
            raise TypeError("%s takes %d arguments, got %d"
                            % (self._label(), len(self.inputs), len(args)))
        given = [True] * len(args) + [False] * (len(self.inputs) - len(args))
        for key, value in kwargs.items():
            if key not in self._names:
                raise TypeError("%s has no input named %r" % (self._label(), key))
            k = self._names.index(key)
            if given[k]:
                raise TypeError("%s got input %r twice" % (self._label(), key))
            values[k], given[k] = value, True
        for k, ok in enumerate(given):
            if not ok:
                if self._defaults[k] is None:
                    raise TypeError("%s is missing input %s (number %d)"
                                    % (self._label(), self._names[k] or "?", k + 1))
                values[k] = self._defaults[k]
        return values

    def _label(self):
        return "function %r" % self.name if self.name else "the function"

    def _specialise(self, key):
        """The graph compiled with every tensor input of static shape ``key``."""
        replace = {}
        inputs = []
        for item, var, shape in zip(self.inputs, self._variables, key):
            if not isinstance(var.type, TensorType):
                inputs.append(item)
                continue
            if len(shape) != var.type.ndim:
                raise TypeError("%s: input %s has %d dimensions, got an array of "
                                "shape %s" % (self._label(), var.name or "?",
                                              var.type.ndim, shape))
            # a size-1 dimension stays unknown in the type: a static 1 means
            # broadcastable, which scan refuses where the graph was built
            # without it; _known_input_shapes supplies its value instead
            static = var.type.clone(shape=tuple(None if n == 1 else n for n in shape))(
                name=var.name)
            replace[var] = static
            inputs.append(In(static, name=item.name, value=item.value,
                             borrow=item.borrow, mutable=item.mutable)
                          if isinstance(item, In) else static)
        options = dict(self.options)
        givens = options.pop("givens")
        if givens:
            # a given's expression may use the inputs: replace them there first
            pairs = list(givens.items()) if isinstance(givens, dict) else list(givens)
            values = clone_replace([v for _, v in pairs], replace)
            options["givens"] = [(k, v) for (k, _), v in zip(pairs, values)] \
                + list(replace.items())
        else:
            options["givens"] = list(replace.items())
        return self._compile(inputs, self.outputs, options,
                             mode=_with_known_shapes(self.mode, key))

    def _compile(self, inputs, outputs, options, mode=None):
        # PyTensor deprecates passing no_default_updates at all
        options = {k: v for k, v in options.items()
                   if not (k == "no_default_updates" and not v)}
        return pytensor.function(inputs, outputs, mode=mode or self.mode, **options)

    def _lookup(self, key):
        """The specialisation for ``key``, marked most recently used, or None."""
        with self._functions_lock:
            fn = self.functions.get(key)
            if fn is not None:
                self.functions.move_to_end(key)
            return fn

    def _claim(self, args):
        """The signature of ``args`` (arrays, or anything with a ``shape``)
        marked as being compiled ahead of use; None when there is nothing to
        compile (a dynamic-shape backend, or compiled or claimed already)."""
        if not self.static or len(args) != len(self.inputs):
            return None
        key = tuple(np.shape(a) for a in args)
        with self._functions_lock:
            if key in self.functions or key in self._ahead:
                return None
            self._ahead[key] = threading.Event()
        return key

    def _compile_claimed(self, key):
        """Compile a claimed signature without running it: PyTensor's
        specialisation, then XLA's executable for it (which JAX keeps, so the
        first call finds it compiled). A failure is left to the first call,
        which compiles again and reports it (or falls back)."""
        start = time.perf_counter()
        try:
            with _COMPILE_LOCK, _quiet_tracing():
                fn = self._specialise(key)
                lowered = _lowered_executable(fn, key)
            if lowered is not None:
                # XLA's part, outside the lock: it holds no GIL, so another
                # thread specialises the next signature meanwhile
                lowered.compile()
            self._remember(key, fn)
        except Exception:
            pass
        finally:
            with self._functions_lock:  # two threads may add at once
                self.ahead_seconds += time.perf_counter() - start
            self._ahead.pop(key).set()

    def _remember(self, key, fn):
        with self._functions_lock:
            self.functions[key] = fn
            while len(self.functions) > self.max_shapes:
                self.functions.popitem(last=False)
        self.shapes_seen += 1
        if self.shapes_seen >= self.warn_shapes and not self._warned:
            self._warned = True
            sys.stderr.write(
                "lasagne_lstm.theano: %s has compiled %d input shapes on a "
                "static-shape backend (one compile each); pad batches with "
                "lasagne_lstm.utils.pad_to_ladder so a few shapes serve all\n"
                % (self._label(), self.shapes_seen))


def _lowered_executable(fn, key):
    """PyTensor function ``fn`` (JAX linker) lowered for inputs of shapes
    ``key``, for XLA to compile without running it; None when PyTensor's
    linker gives no plain jitted function.

    JAX compiles on a jitted function's first call; ``lower(...).compile()``
    on abstract values does the same work and JAX keeps the result for that
    signature. The explicit inputs' types come from the graph, the shared
    variables' from their current values.
    """
    jitted = getattr(getattr(fn, "vm", None), "jit_fn", None)
    if not hasattr(jitted, "lower"):
        return None
    import jax
    specs = []
    for k, (var, cell) in enumerate(zip(fn.maker.fgraph.inputs, fn.vm.inputs)):
        if k < len(key):
            specs.append(jax.ShapeDtypeStruct(key[k], var.type.dtype))
        elif hasattr(cell[0], "shape") and hasattr(cell[0], "dtype"):
            specs.append(jax.ShapeDtypeStruct(np.shape(cell[0]), cell[0].dtype))
        else:
            return None  # a value JAX takes in another form (a random generator)
    return jitted.lower(*specs)


class AheadOfUse:
    """Compilations running ahead of use in background threads (see
    :func:`compile_ahead`); :meth:`cancel` stops after the ones under way.

    Two threads take the signatures in order: one specialises a graph in
    PyTensor (Python, under the compile lock) while the other's XLA
    compilation runs.
    """

    THREADS = 2

    def __init__(self, jobs):
        self._jobs = collections.deque(jobs)
        self._jobs_lock = threading.Lock()
        self._cancelled = False
        self._threads = [threading.Thread(target=self._run, name="compile-ahead",
                                          daemon=True) for _ in range(self.THREADS)]
        _RUNNING.add(self)
        for thread in self._threads:
            thread.start()

    def _next(self):
        with self._jobs_lock:
            return self._jobs.popleft() if self._jobs and not self._cancelled else None

    def _run(self):
        job = self._next()
        while job is not None:
            fn, key = job
            fn._compile_claimed(key)
            job = self._next()

    def join(self):
        """Wait until every compilation has ended."""
        for thread in self._threads:
            thread.join()

    def cancel(self):
        """Compile nothing more; returns once the compilations under way (if
        any) have ended, so that no compiler runs after its caller is done."""
        with self._jobs_lock:
            self._cancelled = True
            left, self._jobs = list(self._jobs), collections.deque()
        for fn, key in left:
            fn._ahead.pop(key).set()  # unclaimed: its first call compiles it
        for thread in self._threads:
            thread.join()


_RUNNING = weakref.WeakSet()


@atexit.register
def _cancel_all():
    # the interpreter must not shut down under a compiler (XLA's threads)
    for ahead in list(_RUNNING):
        ahead.cancel()


def compile_ahead(calls):
    """Compile, in background threads, what calls with these arguments will
    need, in the given order, without running anything.

    Parameters
    ----------
    calls : iterable of (BackendFunction, sequence of arguments)
        The arguments may be arrays or anything with a ``shape``; only their
        shapes matter. Signatures compiled or claimed already are skipped,
        and so are functions on dynamic-shape backends (compiled once).

    Returns
    -------
    AheadOfUse or None
        None when nothing needs compiling. A call whose signature is still
        being compiled waits for it (the wait counts in its function's
        ``compile_seconds``); one whose compilation failed in the background
        compiles again itself, and raises or falls back as it would have.
    """
    jobs = []
    for fn, args in calls:
        key = fn._claim(list(args))
        if key is not None:
            jobs.append((fn, key))
    return AheadOfUse(jobs) if jobs else None
