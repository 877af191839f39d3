"""Theano's top-level names (``theano.shared``, ``theano.scan``,
``theano.grad``, ``theano.clone``, ``theano.config``) on PyTensor, and the
error raised for Theano features that have no equivalent here.
"""
import warnings

import pytensor
import pytensor.tensor as pt
from pytensor.graph.replace import clone_replace

from .. import backends
from ..random_bits import loop_step

__all__ = ["shared", "scan", "grad", "clone", "config", "NotPorted",
           "not_ported_getattr"]

#: ``theano.config``: PyTensor's configuration, so
#: ``theano.config.floatX = 'float32'`` works as it did.
config = pytensor.config

#: ``theano.shared``: PyTensor's has Theano's signature
#: ``shared(value, name=None, strict=False, allow_downcast=None, **kwargs)``.
shared = pytensor.shared


class NotPorted(AttributeError, NotImplementedError):
    """A Theano feature with no equivalent in lasagne-lstm.

    Raised when the name is looked up (never when a module is imported). It
    is an ``AttributeError``, so ``hasattr``/``getattr(..., default)`` treat
    the feature as absent, and a ``NotImplementedError`` because that is what
    it means. (Python turns an ``AttributeError`` met by ``from module import
    name`` into a plain ImportError; ``module.name`` shows the message.)

    Parameters
    ----------
    feature : str
        The Theano name, e.g. ``'theano.tensor.nnet.conv2d'``.
    reason : str
        Why there is nothing, e.g. ``'convolution is not ported'``.
    instead : str, optional
        What to use instead.
    """

    def __init__(self, feature, reason, instead=None):
        message = "%s has no equivalent in lasagne-lstm (%s)" % (feature, reason)
        if instead:
            message += "; " + instead
        super().__init__(message)
        self.feature = feature


def not_ported_getattr(module_name, theano_name, missing):
    """Build a module ``__getattr__`` that raises :class:`NotPorted` for
    Theano's names that have no equivalent.

    Parameters
    ----------
    module_name : str
        The module's own name, for a plain AttributeError on other names.
    theano_name : str
        The Theano module it stands for, e.g. ``'theano.tensor.nnet'``.
    missing : dict
        ``{name: (reason, instead)}`` (``instead`` may be None).
    """
    def __getattr__(name):
        if name in missing:
            reason, instead = missing[name]
            raise NotPorted("%s.%s" % (theano_name, name), reason, instead)
        raise AttributeError("module %r has no attribute %r"
                             % (module_name, name))
    return __getattr__


def scan(fn, sequences=None, outputs_info=None, non_sequences=None,
         n_steps=None, truncate_gradient=-1, go_backwards=False, mode=None,
         name=None, profile=False, allow_gc=None, strict=False,
         return_list=False):
    """``theano.scan``: returns Theano's ``(outputs, updates)`` pair.

    All arguments mean what they meant in Theano (PyTensor kept them all);
    ``mode`` may also be a backend name of :mod:`lasagne_lstm.backends`.
    ``updates`` is a dict of the updates the step function returned; pass it
    to ``theano.function``.

    Random streams (``RandomStreams``, ``MRG_RandomStreams``) drawn from in
    ``fn`` give new numbers at every step, as in Theano: the loop passes
    its step index to them (:func:`lasagne_lstm.random_bits.loop_step`)
    through a hidden first sequence ``arange(length)``, ``length`` being the
    first sequence's length or ``n_steps``.
    """
    if isinstance(mode, str) and mode in backends.BACKENDS:
        mode = backends.get_mode(mode)
    sequences = _as_list(sequences)
    length = _loop_length(sequences, n_steps)
    if length is not None:
        sequences = [pt.arange(length, dtype="int64")] + sequences
        fn = _with_loop_step(fn, length)
    with warnings.catch_warnings():
        # PyTensor 3 warns that it will return the outputs alone; Theano's
        # pair is what ported scripts unpack
        warnings.filterwarnings("ignore", message="Scan return signature",
                                category=DeprecationWarning)
        return pytensor.scan(
            fn, sequences=sequences, outputs_info=outputs_info,
            non_sequences=non_sequences, n_steps=n_steps,
            truncate_gradient=truncate_gradient, go_backwards=go_backwards,
            mode=mode, name=name, profile=profile, allow_gc=allow_gc,
            strict=strict, return_list=return_list, return_updates=True)


def _as_list(value):
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _loop_length(sequences, n_steps):
    """An upper bound of the loop's steps (scan runs as many steps as its
    shortest sequence or ``n_steps`` allow), or None when none is known."""
    if sequences:
        first = sequences[0]
        first = first["input"] if isinstance(first, dict) else first
        return pt.as_tensor_variable(first).shape[0]
    if n_steps is None:
        return None
    return abs(pt.as_tensor_variable(n_steps))


def _with_loop_step(fn, length):
    """``fn`` taking the hidden step index first, building its graph inside
    :func:`loop_step`."""
    def step_fn(step, *args):
        with loop_step(step, length):
            return fn(*args)
    return step_fn


def grad(cost, wrt, consider_constant=None, disconnected_inputs="raise",
         add_names=True, known_grads=None, return_disconnected="zero",
         null_gradients="raise"):
    """``theano.grad``: the gradient of ``cost`` with respect to ``wrt``.

    Parameters
    ----------
    cost : scalar variable or None
        None only together with ``known_grads``.
    wrt : variable or list of variables
        A list gives a list of gradients.
    consider_constant : list of variables, optional
        Expressions not to backpropagate through.
    disconnected_inputs : {'raise', 'warn', 'ignore'}
        What to do when a ``wrt`` does not influence ``cost``.
    add_names : bool
        Name the gradients ``(d<cost>/d<wrt>)``.
    known_grads : dict, optional
        ``{variable: its gradient}`` to start backpropagation from.
    return_disconnected : {'zero', 'none', 'disconnected'}
        The value returned for disconnected inputs.
    null_gradients : {'raise', 'return'}
        What to do with undefined gradients.
    """
    return pytensor.grad(
        cost, wrt, consider_constant=consider_constant,
        disconnected_inputs=disconnected_inputs, add_names=add_names,
        known_grads=known_grads, return_disconnected=return_disconnected,
        null_gradients=null_gradients)


#: Stands for "not given" in :func:`clone` (None is not a valid value).
_NOT_GIVEN = object()


def clone(output, replace=None, strict=True, share_inputs=True,
          copy_inputs=_NOT_GIVEN):
    """``theano.clone``: copy a graph, replacing some of its variables.

    Parameters
    ----------
    output : variable or list of variables
        The graph to copy.
    replace : dict or list of (old, new) pairs, optional
        Variables of the graph and what replaces them in the copy.
    strict : bool
        Require each replacement to have its original's type exactly (else
        it is converted where possible).
    share_inputs : bool
        Keep the original inputs and shared variables in the copy (False
        copies them; copied shared variables still share storage).
    copy_inputs : bool, optional
        Deprecated in Theano; its value replaces ``share_inputs``.

    Returns
    -------
    variable or list of variables
        As ``output``.
    """
    if copy_inputs is not _NOT_GIVEN:
        warnings.warn("theano.clone's copy_inputs is deprecated: use "
                      "share_inputs", DeprecationWarning, stacklevel=2)
        share_inputs = copy_inputs
    return clone_replace(output, replace=replace, rebuild_strict=strict,
                         copy_inputs_over=share_inputs)
