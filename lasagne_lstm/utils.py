"""Helpers shared by layers, initializers and update rules (``lasagne.utils``)."""
import math
import numbers

import numpy as np
import pytensor
import pytensor.tensor as pt
from pytensor.compile.builders import OpFromGraph
from pytensor.compile.sharedvalue import SharedVariable
from pytensor.gradient import disconnected_type
from pytensor.graph.basic import Variable

int_types = (numbers.Integral, np.integer)


def floatX(arr):
    """Return ``arr`` as a numpy array of PyTensor's ``floatX`` dtype."""
    return np.asarray(arr, dtype=pytensor.config.floatX)


def shared_empty(dim=2, dtype=None):
    """A shared variable of zeros with shape ``(1,) * dim`` (floatX unless ``dtype``)."""
    if dtype is None:
        dtype = pytensor.config.floatX
    return pytensor.shared(np.zeros((1,) * dim, dtype=dtype))


def as_theano_expression(input):
    """Return ``input`` as a symbolic expression: a Variable unchanged, else a constant.

    Raises
    ------
    TypeError
        If ``input`` cannot be turned into a constant.
    """
    if isinstance(input, Variable):
        return input
    try:
        return pt.constant(input)
    except Exception as exc:
        raise TypeError("Input of type %s is not a PyTensor expression: %s"
                        % (type(input), exc)) from exc


# The name users of PyTensor would look for.
as_pytensor_expression = as_theano_expression


def collect_shared_vars(expressions):
    """Return the shared variables an expression (or list of them) depends on.

    The order is depth-first, left to right, first expression first, without
    duplicates. (PyTensor's ``graph_inputs`` searches right to left, so the
    traversal is done here.)
    """
    if isinstance(expressions, Variable):
        expressions = [expressions]
    seen = set()
    found = []
    # a stack popped from the end: push in reverse to visit left to right
    stack = list(reversed(list(expressions)))
    while stack:
        var = stack.pop()
        if var in seen:
            continue
        seen.add(var)
        if var.owner is None:
            if isinstance(var, SharedVariable):
                found.append(var)
        else:
            stack.extend(reversed(var.owner.inputs))
    return found


def one_hot(x, m=None):
    """One-hot encode the integers ``x`` into rows of length ``m`` (floatX).

    ``m`` defaults to ``max(x) + 1``.
    """
    if m is None:
        m = pt.cast(pt.max(x) + 1, "int32")
    return pt.eye(m, dtype=pytensor.config.floatX)[pt.cast(x, "int32")]


def unique(l):
    """Remove duplicates from an iterable, keeping the first occurrence's order."""
    seen = set()
    out = []
    for item in l:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


def as_tuple(x, N, t=None):
    """Coerce ``x`` to a tuple of length ``N``, checking element types against ``t``.

    Raises
    ------
    TypeError
        If an element is not of type ``t``.
    ValueError
        If the result does not have length ``N``.
    """
    try:
        X = tuple(x)
    except TypeError:
        X = (x,) * N
    if t is not None and not all(isinstance(v, t) for v in X):
        if t == int_types:
            expected = "int"
        elif isinstance(t, tuple):
            expected = " or ".join(tt.__name__ for tt in t)
        else:
            expected = t.__name__
        raise TypeError("expected a single value or an iterable of {0}, got {1} "
                        "instead".format(expected, x))
    if len(X) != N:
        raise ValueError("expected a single value or an iterable with length {0}, "
                         "got {1} instead".format(N, x))
    return X


def inspect_kwargs(func):
    """Return the names of ``func``'s parameters that have default values."""
    import inspect
    params = inspect.signature(func).parameters
    return [name for name, p in params.items()
            if p.default is not inspect.Parameter.empty]


def compute_norms(array, norm_axes=None):
    """Euclidean norms of ``array`` (numpy or symbolic) over ``norm_axes``.

    By default a 2-D array is normed over axis 0 (one norm per column, as for a
    dense layer's weights), a 3- to 5-D one over all axes but the first, and a
    1-D one element-wise (absolute values).

    Raises
    ------
    RuntimeError
        If ``array`` is neither a numpy array nor a symbolic variable.
    ValueError
        If no default axes exist for its rank.
    """
    if isinstance(array, Variable):
        backend, ndim = pt, array.ndim
    elif isinstance(array, np.ndarray):
        backend, ndim = np, array.ndim
    else:
        raise RuntimeError("Unsupported type {}. Only numpy arrays and PyTensor "
                           "variables are supported.".format(type(array).__name__))
    if norm_axes is not None:
        sum_over = tuple(norm_axes)
    elif ndim == 1:
        sum_over = ()
    elif ndim == 2:
        sum_over = (0,)
    elif ndim in (3, 4, 5):
        sum_over = tuple(range(1, ndim))
    else:
        raise ValueError("Unsupported tensor dimensionality {}. Must specify "
                         "`norm_axes`".format(ndim))
    if sum_over == ():
        return backend.abs(array) if backend is pt else np.abs(array)
    return backend.sqrt(backend.sum(array ** 2, axis=sum_over))


def create_param(spec, shape, name=None):
    """Create a parameter of ``shape`` from a spec, as Lasagne's layers do.

    Parameters
    ----------
    spec : numpy array, PyTensor variable, number, or callable
        A numpy array becomes a shared variable (it must match ``shape``
        exactly and keeps its own dtype); a variable is used as it is (its
        ``ndim`` must match); a callable (an initializer) is called with
        ``shape`` and its result becomes a shared variable; a number is a
        0-d array.
    shape : tuple of int
        The shape of the parameter; every dimension must be positive.
    name : str, optional
        The name given to a created shared variable (or an unnamed variable).

    Returns
    -------
    A shared variable or the given variable.

    Raises
    ------
    ValueError
        If a dimension is not positive, or the spec's shape or rank mismatch.
    TypeError
        If ``spec`` is of an unsupported kind.
    """
    shape = tuple(shape)
    if any(d <= 0 for d in shape):
        raise ValueError("Cannot create param with a non-positive shape "
                         "dimension. Tried to create param with shape=%r, "
                         "name=%r" % (shape, name))
    err_prefix = "cannot initialize parameter %s: " % name if name else \
        "cannot initialize parameter: "
    if isinstance(spec, numbers.Number) or (isinstance(spec, np.generic)
                                            and spec.dtype.kind in "biuf"):
        spec = np.asarray(spec)
    if isinstance(spec, Variable):
        if spec.ndim != len(shape):
            raise ValueError("%sparameter variable has %d dimensions, should "
                             "be %d" % (err_prefix, spec.ndim, len(shape)))
        if name is not None and spec.name is None:
            spec.name = name
        return spec
    if isinstance(spec, np.ndarray):
        if spec.shape != shape:
            raise ValueError("%sparameter array has shape %s, should be %s"
                             % (err_prefix, spec.shape, shape))
        return pytensor.shared(spec, name=name,
                               shape=shape)
    if callable(spec):
        arr = spec(shape)
        try:
            arr = floatX(arr)
        except Exception as exc:
            raise RuntimeError("%scannot interpret initializer result as a "
                               "numpy array" % err_prefix) from exc
        if arr.shape != shape:
            raise RuntimeError("%sinitializer returned an array of shape %s, "
                               "should be %s" % (err_prefix, arr.shape, shape))
        return pytensor.shared(arr, name=name,
                               shape=shape)
    raise TypeError("%sunsupported spec of type %s: expected a numpy array, a "
                    "PyTensor variable, a number or a callable"
                    % (err_prefix, type(spec).__name__))


def unroll_scan(fn, sequences, outputs_info, non_sequences, n_steps,
                go_backwards=False):
    """A Python-loop replacement for ``scan``, for a known number of steps.

    ``fn`` is called as ``fn(*[s[i] for s in sequences], *previous_outputs,
    *non_sequences)`` for ``i`` in ``range(n_steps)`` (reversed when
    ``go_backwards``). Returns the list of outputs, each stacked along a new
    first axis in processing order.
    """
    if not isinstance(sequences, (list, tuple)):
        sequences = [sequences]
    counter = range(n_steps)
    if go_backwards:
        counter = counter[::-1]
    output = []
    prev_vals = list(outputs_info)
    non_sequences = list(non_sequences)
    for i in counter:
        step_input = [s[i] for s in sequences] + prev_vals + non_sequences
        out_ = fn(*step_input)
        if isinstance(out_, Variable):
            out_ = [out_]
        if isinstance(out_, tuple):
            out_ = list(out_)
        output.append(out_)
        prev_vals = output[-1]
    return [pt.stack(out) for out in zip(*output)]


def ladder_width(length, multiple=1, growth=1.0):
    """The padded width of a row of ``length`` steps: the smallest rung of
    the ladder ``multiple, ...`` that holds it, each rung the previous one
    times ``growth`` rounded up to a multiple of ``multiple`` (and at least
    one multiple more). ``growth=1`` allows every multiple; multiple 4 and
    growth 1.3 give 4, 8, 12, 16, 24, 32, 44, 60, 80, ...

    A static-shape backend (JAX) compiles one function per input shape: a
    ladder keeps the number of widths small and the padding low.
    """
    if length <= 0:
        return 0
    if growth <= 1.0:
        return int(math.ceil(length / multiple) * multiple)
    width = multiple
    while width < length:
        # rounded first, so that an exact product is not pushed up a multiple
        grown = int(math.ceil(round(width * growth / multiple, 9))) * multiple
        width = max(width + multiple, grown)
    return width


def pad_to_ladder(*arrays, multiple=4, growth=1.3, axis=1, value=0):
    """Pad the time axis of a padded batch to the next rung of the width
    ladder (:func:`ladder_width`), every array alike.

    Give the batch's arrays together, e.g. ``X, mask, y = pad_to_ladder(X,
    mask, y)``: each array with at least ``axis + 1`` dimensions is padded
    with ``value`` (0: a zero mask marks the new steps as padding, so a
    masked loss is unchanged); others (a classifier's (batch,) labels) are
    returned as they are. A variable-length script then compiles only a
    handful of shapes on a static-shape backend
    (:func:`lasagne_lstm.theano.function`).

    Returns
    -------
    list of arrays (a single array when one is given)
    """
    widths = {np.shape(a)[axis] for a in arrays if np.ndim(a) > axis}
    if len(widths) > 1:
        raise ValueError("pad_to_ladder: the arrays' axis %d sizes differ: %s"
                         % (axis, sorted(widths)))
    out = []
    for a in arrays:
        a = np.asarray(a)
        if a.ndim <= axis:
            out.append(a)
            continue
        extra = ladder_width(a.shape[axis], multiple, growth) - a.shape[axis]
        pad = [(0, 0)] * a.ndim
        pad[axis] = (0, extra)
        out.append(np.pad(a, pad, constant_values=value) if extra else a)
    return out[0] if len(out) == 1 else out


def pick_last_axis(values, indices):
    """``values[..., indices]``: one element of each row along the last axis.

    Built on ``take_along_axis``, which keeps index shapes static (JAX needs
    them), with its gradient given as ``g`` where :func:`index_mask` is true
    rather than derived: differentiating ``take_along_axis`` scatters into a
    zeroed array as large as ``values`` (rows x classes for a cross-entropy),
    which XLA fills and then reads as a separate pass.

    Parameters
    ----------
    values : tensor
        At least one dimension.
    indices : integer tensor
        One dimension fewer than ``values``, each in ``[-n, n)`` for a last
        axis of ``n`` (negative ones count from the end).

    Returns
    -------
    tensor
        Of ``indices``' shape.
    """
    return with_gradient(_take_last_axis, _pick_pullback, [values, indices],
                         name="pick_last_axis")


def _take_last_axis(values, indices):
    return pt.take_along_axis(values, pt.shape_padright(indices), axis=-1)[..., 0]


def _pick_pullback(inputs, outputs, output_grads):
    """:func:`pick_last_axis`'s gradient: ``g`` where the index points."""
    values, indices = inputs
    grad = pt.switch(index_mask(indices, values.shape[-1]),
                     pt.shape_padright(output_grads[0]), 0)
    return [grad.astype(values.dtype), disconnected_type()]


def with_gradient(forward, pullback, inputs, name=None):
    """``forward(*inputs)``, differentiated by ``pullback`` instead of
    through its graph.

    An inline ``OpFromGraph``: the compiled graph is ``forward``'s own (the
    op is replaced by it before rewriting), and ``pytensor.grad`` calls
    ``pullback(inputs, outputs, output_grads)``, which returns one gradient
    per input (``disconnected_type()`` for integer ones).

    Parameters
    ----------
    forward : callable
        Builds the single output from symbolic inputs of ``inputs``' types.
    pullback : callable
        The gradient, as PyTensor's ``OpFromGraph`` takes it.
    inputs : list of tensors
    name : str, optional
    """
    inputs = [pt.as_tensor_variable(v) for v in inputs]
    inner = [v.type() for v in inputs]
    op = OpFromGraph(inner, [forward(*inner)], inline=True, pullback=pullback, name=name)
    return op(*inputs)


def index_mask(indices, n):
    """Boolean tensor of ``indices``' shape plus a last axis of ``n``, true
    where that axis's position is the index (negative indices count from the
    end): a one-hot comparison that element-wise code can fuse, where
    indexing would write a one-hot array."""
    indices = pt.as_tensor_variable(indices)
    n = pt.as_tensor_variable(n)
    wrapped = pt.switch(pt.lt(indices, 0), indices + n, indices)
    return pt.eq(pt.arange(n), pt.shape_padright(wrapped))


def log_probabilities(p):
    """``log(p)`` for a tensor of probabilities; for the output of a softmax,
    the log-softmax of its input instead.

    The two are equal, but the log-softmax never takes the log of an
    underflowed probability, and its gradient is ``softmax - targets``
    rather than a division by ``p`` pushed back through the softmax: the
    cross-entropies of :mod:`lasagne_lstm.objectives` and
    ``lasagne_lstm.theano.tensor.nnet`` use it so that the usual Lasagne loss
    (a softmax DenseLayer, then a cross-entropy of its probabilities) gets
    the stable, cheaper graph.
    """
    from pytensor.tensor.special import Softmax
    p = pt.as_tensor_variable(p)
    node = p.owner
    if node is not None and isinstance(node.op, Softmax):
        axis = node.op.axis
        if axis is not None and tuple(a % p.ndim for a in axis) == (p.ndim - 1,):
            return pt.special.log_softmax(node.inputs[0], axis=-1)
    return pt.log(p)
