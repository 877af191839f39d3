"""Layers combining several inputs (``lasagne.layers.merge``)."""
import numpy as np
import pytensor.tensor as pt
from pytensor.graph.basic import Variable

from .base import MergeLayer

__all__ = ["autocrop", "autocrop_array_shapes", "ConcatLayer", "concat",
           "ElemwiseMergeLayer", "ElemwiseSumLayer"]

_CROP_MODES = ("lower", "upper", "center")


def _padded_cropping(cropping, ndim):
    cropping = list(cropping)
    return cropping + [None] * (ndim - len(cropping))


def autocrop(inputs, cropping):
    """Crop symbolic inputs to a common size along chosen axes.

    Parameters
    ----------
    inputs : list of tensors
        The inputs, all of the same rank.
    cropping : None or list
        ``None`` returns ``inputs`` unchanged. Otherwise one entry per axis
        (missing trailing entries count as ``None``): ``None`` leaves the axis
        alone; ``'lower'``, ``'upper'`` and ``'center'`` cut every input to
        the smallest size ``m`` along it, keeping ``[:m]``, ``[-m:]`` or the
        ``m`` elements starting at ``(n - m) // 2``.

    Returns
    -------
    list of tensors

    Raises
    ------
    ValueError
        If the ranks differ or a mode is unknown.
    """
    if cropping is None:
        return inputs
    ndim = inputs[0].ndim
    if not all(x.ndim == ndim for x in inputs):
        raise ValueError("Not all inputs are of the same dimensionality. Got "
                         "%d inputs of dimensionalities %s."
                         % (len(inputs), [x.ndim for x in inputs]))
    cropping = _padded_cropping(cropping, ndim)
    min_sizes = [pt.min(pt.stack([x.shape[axis] for x in inputs]))
                 for axis in range(ndim)]
    indices = [[] for _ in inputs]
    for axis, mode in enumerate(cropping):
        if mode is None:
            for idx in indices:
                idx.append(slice(None))
            continue
        if mode not in _CROP_MODES:
            raise ValueError("Unknown crop mode '%s'" % (mode,))
        m = min_sizes[axis]
        for x, idx in zip(inputs, indices):
            if mode == "lower":
                idx.append(slice(None, m))
            elif mode == "upper":
                idx.append(slice(-m, None))
            else:
                start = (x.shape[axis] - m) // 2
                idx.append(slice(start, start + m))
    return [x[tuple(idx)] for x, idx in zip(inputs, indices)]


def autocrop_array_shapes(input_shapes, cropping):
    """The shapes :func:`autocrop` would produce from ``input_shapes``.

    A cropped axis gets the smallest size among the inputs, or ``None`` if
    any of them is unknown.

    Raises
    ------
    ValueError
        If the ranks differ or a mode is unknown.
    """
    if cropping is None:
        return input_shapes
    ndim = len(input_shapes[0])
    if not all(len(shape) == ndim for shape in input_shapes):
        raise ValueError("Not all inputs are of the same dimensionality. Got "
                         "%d inputs of dimensionalities %s."
                         % (len(input_shapes),
                            [len(shape) for shape in input_shapes]))
    cropping = _padded_cropping(cropping, ndim)
    columns = []
    for sizes, mode in zip(zip(*input_shapes), cropping):
        if mode is None:
            columns.append(sizes)
        elif mode in _CROP_MODES:
            if any(s is None for s in sizes):
                columns.append((None,) * len(sizes))
            else:
                columns.append((min(sizes),) * len(sizes))
        else:
            raise ValueError("Unknown crop mode '%s'" % (mode,))
    return [tuple(shape) for shape in zip(*columns)]


def _first_known(input_shapes):
    """Per axis, the first size that is not None (or None)."""
    return [next((s for s in sizes if s is not None), None)
            for sizes in zip(*input_shapes)]


def _agree(shape1, shape2, skip=None):
    return len(shape1) == len(shape2) and all(
        axis == skip or s1 is None or s2 is None or s1 == s2
        for axis, (s1, s2) in enumerate(zip(shape1, shape2)))


class ConcatLayer(MergeLayer):
    """Concatenates its inputs along one axis.

    Parameters
    ----------
    incomings : list of :class:`Layer` instances or tuples
        The layers to concatenate; their shapes must agree except along
        ``axis`` (None matches anything).
    axis : int
        The concatenation axis; its output size is the sum of the input
        sizes (None if any is unknown).
    cropping : None or list
        As for :func:`autocrop`; the entry for ``axis`` is ignored.

    Raises
    ------
    ValueError
        If ranks differ or known sizes off ``axis`` disagree.
    """

    def __init__(self, incomings, axis=1, cropping=None, **kwargs):
        super().__init__(incomings, **kwargs)
        self.axis = axis
        if cropping is not None:
            cropping = list(cropping)
            if axis >= len(cropping):
                cropping += [None] * (axis + 1 - len(cropping))
            cropping[axis] = None
        self.cropping = cropping

    def get_output_shape_for(self, input_shapes):
        input_shapes = autocrop_array_shapes(input_shapes, self.cropping)
        output_shape = _first_known(input_shapes)
        axis = self.axis if self.axis >= 0 else self.axis + len(output_shape)
        if not all(_agree(shape, output_shape, skip=axis)
                   for shape in input_shapes):
            raise ValueError("Mismatch: input shapes must be the same except "
                             "in the concatenation axis; got %s"
                             % (input_shapes,))
        sizes = [shape[self.axis] for shape in input_shapes]
        output_shape[self.axis] = (None if any(s is None for s in sizes)
                                   else sum(sizes))
        return tuple(output_shape)

    def get_output_for(self, inputs, **kwargs):
        inputs = autocrop(inputs, self.cropping)
        return pt.concatenate(inputs, axis=self.axis)


concat = ConcatLayer


class ElemwiseMergeLayer(MergeLayer):
    """Merges same-shaped inputs with a binary element-wise function.

    The output is the left fold ``f(...f(f(x0, x1), x2)..., xn)``.

    Parameters
    ----------
    incomings : list of :class:`Layer` instances or tuples
        The layers to merge; their shapes must agree (None matches anything).
    merge_function : callable
        A binary element-wise function such as ``pytensor.tensor.maximum``.
    cropping : None or list
        As for :func:`autocrop`.

    Raises
    ------
    ValueError
        If the input shapes disagree.
    """

    def __init__(self, incomings, merge_function, cropping=None, **kwargs):
        super().__init__(incomings, **kwargs)
        self.merge_function = merge_function
        self.cropping = cropping

    def get_output_shape_for(self, input_shapes):
        input_shapes = autocrop_array_shapes(input_shapes, self.cropping)
        output_shape = tuple(_first_known(input_shapes))
        if not all(_agree(shape, output_shape) for shape in input_shapes):
            raise ValueError("Mismatch: not all input shapes are the same; "
                             "got %s" % (input_shapes,))
        return output_shape

    def get_output_for(self, inputs, **kwargs):
        inputs = autocrop(inputs, self.cropping)
        output = inputs[0]
        for x in inputs[1:]:
            output = self.merge_function(output, x)
        return output


def _is_one(coeff):
    """Whether a coefficient is a plain scalar 1 (so needs no multiply)."""
    return (not isinstance(coeff, Variable) and np.ndim(coeff) == 0
            and coeff == 1)


class ElemwiseSumLayer(ElemwiseMergeLayer):
    """Sums its inputs with fixed coefficients: ``y = Σ_i c_i x_i``.

    Parameters
    ----------
    incomings : list of :class:`Layer` instances or tuples
        The layers to sum; their shapes must agree.
    coeffs : number or list
        One coefficient per input, or one shared by all. They are constants,
        not parameters; inputs with coefficient 1 are not multiplied.
    cropping : None or list
        As for :func:`autocrop`.

    Raises
    ------
    ValueError
        If a list of coefficients does not have one entry per input.
    """

    def __init__(self, incomings, coeffs=1, cropping=None, **kwargs):
        super().__init__(incomings, merge_function=pt.add, cropping=cropping,
                         **kwargs)
        if isinstance(coeffs, (list, tuple)):
            if len(coeffs) != len(incomings):
                raise ValueError("Mismatch: got %d coeffs for %d incomings"
                                 % (len(coeffs), len(incomings)))
            coeffs = list(coeffs)
        else:
            coeffs = [coeffs] * len(incomings)
        self.coeffs = coeffs

    def get_output_for(self, inputs, **kwargs):
        scaled = [x if _is_one(c) else x * c
                  for c, x in zip(self.coeffs, inputs)]
        return super().get_output_for(scaled, **kwargs)
