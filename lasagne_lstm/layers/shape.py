"""Layers that rearrange their input (``lasagne.layers.shape``)."""
import numpy as np
import pytensor.tensor as pt
from pytensor.graph.basic import Variable

from ..utils import int_types
from .base import Layer

__all__ = ["FlattenLayer", "flatten", "ReshapeLayer", "reshape",
           "DimshuffleLayer", "dimshuffle", "SliceLayer", "PadLayer", "pad"]


class FlattenLayer(Layer):
    """Merges all trailing axes into one.

    The first ``outdim - 1`` axes are kept; the remaining ones are collapsed
    (in C order) into a last axis whose size is their product, so
    ``(N, C, H, W)`` becomes ``(N, C*H*W)`` with the default ``outdim=2``.

    Parameters
    ----------
    incoming : a :class:`Layer` instance or a tuple
        The layer feeding into this layer, or the expected input shape.
    outdim : int
        The rank of the output (at least 1).

    Raises
    ------
    ValueError
        If ``outdim < 1``.
    """

    def __init__(self, incoming, outdim=2, **kwargs):
        super().__init__(incoming, **kwargs)
        if outdim < 1:
            raise ValueError("outdim must be at least 1, got %d" % outdim)
        self.outdim = outdim

    def get_output_shape_for(self, input_shape):
        kept = tuple(input_shape[:self.outdim - 1])
        merged = input_shape[self.outdim - 1:]
        if any(s is None for s in merged):
            size = None
        else:
            size = int(np.prod(merged))
        return kept + (size,)

    def get_output_for(self, input, **kwargs):
        return input.flatten(self.outdim)


flatten = FlattenLayer


def _is_reference(s):
    return isinstance(s, list)


class ReshapeLayer(Layer):
    """Reshapes the input (C order) to a given shape.

    Parameters
    ----------
    incoming : a :class:`Layer` instance or a tuple
        The layer feeding into this layer, or the expected input shape.
    shape : tuple
        The target shape. Each element is a positive int; ``-1`` (at most
        once), whose size is inferred from the total size; a one-element list
        ``[i]``, which copies the size of input axis ``i``; or a 0-d symbolic
        integer. For example ``([0], [1], 5, -1)`` splits the third axis of a
        ``(N, T, 20)`` input into ``(N, T, 5, 4)``.

    Raises
    ------
    ValueError
        For a malformed element, a second ``-1``, a reference to an axis the
        input lacks, or (where sizes are known) a total-size mismatch.
    """

    def __init__(self, incoming, shape, **kwargs):
        super().__init__(incoming, **kwargs)
        shape = tuple(shape)
        for s in shape:
            if isinstance(s, int_types) and not isinstance(s, bool):
                if s == 0 or s < -1:
                    raise ValueError("`shape` integers must be positive or "
                                     "-1, got %d" % s)
            elif _is_reference(s):
                if (len(s) != 1 or not isinstance(s[0], int_types)
                        or s[0] < 0):
                    raise ValueError("`shape` input references must be "
                                     "single-element lists of an int >= 0, "
                                     "got %r" % (s,))
            elif isinstance(s, Variable):
                if s.ndim != 0:
                    raise ValueError("A symbolic variable in a shape "
                                     "specification must be a scalar, but "
                                     "had %d dimensions" % s.ndim)
            else:
                raise ValueError("`shape` must be a tuple of int and/or "
                                 "[int], got element %r" % (s,))
        if sum(1 for s in shape if isinstance(s, int_types) and s == -1) > 1:
            raise ValueError("`shape` cannot contain multiple -1")
        self.shape = shape
        # validate references and sizes now rather than at compile time
        self.get_output_shape_for(self.input_shape)

    def get_output_shape_for(self, input_shape, **kwargs):
        input_shape = tuple(input_shape)
        output_shape = []
        # sizes entering the -1 inference; an unknown input axis copied by a
        # reference is matched one-to-one and therefore left out on both sides
        in_sizes = list(input_shape)
        out_sizes = []
        infer_at = None
        for dim, s in enumerate(self.shape):
            if _is_reference(s):
                axis = s[0]
                if axis >= len(input_shape):
                    raise ValueError("specification contains [%d], but input "
                                     "shape has %d dimensions only"
                                     % (axis, len(input_shape)))
                size = input_shape[axis]
                output_shape.append(size)
                if size is None and in_sizes[axis] is None:
                    in_sizes[axis] = 1
                    out_sizes.append(1)
                else:
                    out_sizes.append(size)
            elif isinstance(s, Variable):
                output_shape.append(None)
                out_sizes.append(None)
            elif s == -1:
                infer_at = dim
                output_shape.append(None)
            else:
                output_shape.append(int(s))
                out_sizes.append(int(s))
        in_total = (None if any(s is None for s in in_sizes)
                    else int(np.prod(in_sizes)))
        out_total = (None if any(s is None for s in out_sizes)
                     else int(np.prod(out_sizes)))
        if infer_at is not None:
            if in_total is None or out_total is None:
                out_total = None
            else:
                output_shape[infer_at] = in_total // out_total
                out_total *= output_shape[infer_at]
        if (in_total is not None and out_total is not None
                and in_total != out_total):
            raise ValueError("%s cannot be reshaped to specification %s. The "
                             "total size mismatches." % (input_shape,
                                                         self.shape))
        return tuple(output_shape)

    def get_output_for(self, input, **kwargs):
        target = [input.shape[s[0]] if _is_reference(s) else s
                  for s in self.shape]
        return input.reshape(tuple(target))


reshape = ReshapeLayer


class DimshuffleLayer(Layer):
    """Permutes axes and inserts or drops broadcastable ones.

    Parameters
    ----------
    incoming : a :class:`Layer` instance or a tuple
        The layer feeding into this layer, or the expected input shape.
    pattern : tuple
        Output axis ``k`` is input axis ``pattern[k]``, or a new axis of size
        1 where ``pattern[k] == 'x'``. Input axes left out are dropped; they
        must have size 1 (or unknown size, checked to be 1 when run). For
        example ``(1, 0, 'x')`` maps ``(A, B)`` to ``(B, A, 1)``.

    Raises
    ------
    ValueError
        For an entry that is not an int or ``'x'``, a repeated axis, an axis
        the input lacks, or dropping an axis of known size other than 1.
    """

    def __init__(self, incoming, pattern, **kwargs):
        super().__init__(incoming, **kwargs)
        used = set()
        for p in pattern:
            if isinstance(p, int_types) and not isinstance(p, bool):
                if p in used:
                    raise ValueError("pattern contains dimension %d more than "
                                     "once" % p)
                used.add(p)
            elif isinstance(p, str) and p == "x":
                pass
            else:
                raise ValueError("pattern should only contain integers or "
                                 "'x', not %r" % (p,))
        self.pattern = tuple(pattern)
        self.get_output_shape_for(self.input_shape)

    def get_output_shape_for(self, input_shape):
        output_shape = []
        kept = set()
        for p in self.pattern:
            if isinstance(p, str):
                output_shape.append(1)
                continue
            if p < 0 or p >= len(input_shape):
                raise ValueError("pattern contains %d, but input shape has %d "
                                 "dimensions only" % (p, len(input_shape)))
            kept.add(p)
            output_shape.append(input_shape[p])
        for axis, size in enumerate(input_shape):
            if axis not in kept and size not in (1, None):
                raise ValueError("pattern attempted to collapse dimension %d "
                                 "of size %d; only dimensions of size 1 (or "
                                 "unknown size) can be dropped"
                                 % (axis, size))
        return tuple(output_shape)

    def get_output_for(self, input, **kwargs):
        kept = set(p for p in self.pattern if not isinstance(p, str))
        dropped = [axis for axis in range(input.ndim)
                   if axis not in kept and input.type.shape[axis] != 1]
        if dropped:
            # sizes unknown statically: assert they are 1 at run time
            input = pt.specify_broadcastable(input, *dropped)
        return input.dimshuffle(*self.pattern)


dimshuffle = DimshuffleLayer


class SliceLayer(Layer):
    """Slices the input along one axis: ``y = x[..., indices, ...]``.

    Parameters
    ----------
    incoming : a :class:`Layer` instance or a tuple
        The layer feeding into this layer, or the expected input shape.
    indices : int or slice
        An int selects one index and removes the axis; a ``slice`` keeps it.
    axis : int
        The axis to slice (negative counts from the end).
    """

    def __init__(self, incoming, indices, axis=-1, **kwargs):
        super().__init__(incoming, **kwargs)
        self.slice = indices
        self.axis = axis

    def get_output_shape_for(self, input_shape):
        output_shape = list(input_shape)
        if isinstance(self.slice, int_types):
            del output_shape[self.axis]
        elif input_shape[self.axis] is not None:
            n = input_shape[self.axis]
            output_shape[self.axis] = len(range(*self.slice.indices(n)))
        else:
            output_shape[self.axis] = None
        return tuple(output_shape)

    def get_output_for(self, input, **kwargs):
        axis = self.axis if self.axis >= 0 else self.axis + input.ndim
        return input[(slice(None),) * axis + (self.slice,)]


def _pad_widths(width, n_axes):
    """Per-axis ``(before, after)`` pairs from an int or a list."""
    if isinstance(width, int_types):
        width = [width] * n_axes
    pairs = []
    for w in width:
        try:
            before, after = w
        except TypeError:
            before = after = w
        pairs.append((before, after))
    return pairs


class PadLayer(Layer):
    """Pads the non-batch axes with a constant value.

    Parameters
    ----------
    incoming : a :class:`Layer` instance or a tuple
        The layer feeding into this layer, or the expected input shape.
    width : int, list of int, or list of (int, int)
        The padding: an int pads every axis after the first ``batch_ndim`` by
        that much on both sides; a list gives one int (both sides) or one
        ``(before, after)`` pair per axis, starting at axis ``batch_ndim``
        (a short list pads only the leading ones).
    val : float
        The padding value.
    batch_ndim : int
        The number of leading axes left unpadded.
    """

    def __init__(self, incoming, width, val=0, batch_ndim=2, **kwargs):
        super().__init__(incoming, **kwargs)
        self.width = width
        self.val = val
        self.batch_ndim = batch_ndim

    def get_output_shape_for(self, input_shape):
        output_shape = list(input_shape)
        pairs = _pad_widths(self.width, len(input_shape) - self.batch_ndim)
        for k, (before, after) in enumerate(pairs):
            axis = k + self.batch_ndim
            if output_shape[axis] is not None:
                output_shape[axis] += before + after
        return tuple(output_shape)

    def get_output_for(self, input, **kwargs):
        pairs = _pad_widths(self.width, input.ndim - self.batch_ndim)
        out_shape = [input.shape[axis] for axis in range(input.ndim)]
        index = [slice(None)] * input.ndim
        for k, (before, after) in enumerate(pairs):
            axis = k + self.batch_ndim
            out_shape[axis] = out_shape[axis] + before + after
            index[axis] = slice(before, before + input.shape[axis])
        out = pt.alloc(pt.cast(self.val, input.dtype), *out_shape)
        return pt.set_subtensor(out[tuple(index)], input)


pad = PadLayer
