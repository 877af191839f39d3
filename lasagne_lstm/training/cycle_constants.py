"""Rearrangements of the parameters that stay constant over an accumulation
cycle: transposes, concatenations, reshapes and slices of the parameters
alone, computed once per cycle instead of once per ``compute_grad`` call.

Why: between two updates the parameters do not change, yet a compute-grad
graph rearranges them at every call. An LSTM concatenates its four gates'
weights and its backward loop transposes them; the gradient into a dense
layer's input is ``g @ W.T``, which XLA's CPU product computes about half
as fast for a sequence's 16 rows of ``g`` as ``g @ V`` with ``V = W.T``
stored as an array of its own (``benchmarks/output_layer_floor.py``). A
masked step pays these once per update; single sequences paid them per
sequence. Measured with
``python benchmarks/step_variants.py --compare constants --mode accumulate
--threads 2``: see ``benchmarks/README.md``.

Only data movement is moved out of the call (no arithmetic), so the held
values are bit for bit those the call would form (the products reading them
may add in another order).
"""
import numpy as np
import pytensor
from pytensor.compile.mode import Mode
from pytensor.graph.basic import Constant, equal_computations
from pytensor.graph.fg import FunctionGraph
from pytensor.graph.rewriting.basic import dfs_rewriter
from pytensor.graph.traversal import graph_inputs, io_toposort
from pytensor.graph.replace import graph_replace
from pytensor.scan.rewriting.push_out import scan_push_out_non_seq
from pytensor.tensor.basic import Join
from pytensor.tensor.elemwise import DimShuffle
from pytensor.tensor.shape import Reshape, SpecifyShape
from pytensor.tensor.subtensor import Subtensor

from ..theano import function

#: Operations that only move values: their result on parameters is moved out.
DATA_MOVEMENT = (DimShuffle, Join, Reshape, SpecifyShape, Subtensor)
#: Rearrangements smaller than this (in values) stay in the call.
MIN_SIZE = 2 ** 15


def _loop_invariants_outside(variables):
    """``variables`` with what a scan's inner graph computes from its
    non-sequences alone (an LSTM's backward loop transposes its stacked
    hidden weights) moved out of the loop, where it can be substituted.
    PyTensor's own rewrite, which compilation would apply anyway."""
    fgraph = FunctionGraph(outputs=list(variables), clone=True, copy_inputs=False)
    dfs_rewriter(scan_push_out_non_seq, ignore_newtrees=True).rewrite(fgraph)
    return list(fgraph.outputs)


class CycleConstants:
    """Shared variables holding rearrangements of ``params``, substituted
    for them in compute-grad graphs (:meth:`substitute`) and recomputed by
    :meth:`refresh` whenever the parameters have changed since.

    Parameters
    ----------
    params : list of shared variables
    backend : str, optional
        The backend of the function recomputing them.
    min_size : int
        Rearrangements of fewer values stay in the graphs.

    Attributes
    ----------
    entries : list of (expression, shared variable)
    function : compiled function or None
        The function recomputing them (built on the first refresh).
    """

    def __init__(self, params, backend=None, min_size=MIN_SIZE):
        self.params = list(params)
        self.backend = backend
        self.min_size = int(min_size)
        self.entries = []
        self.function = None
        self._seen = None  # the parameters' stored values at the last refresh

    def substitute(self, variables):
        """``variables`` with every parameter-only rearrangement of at least
        ``min_size`` values read from a shared variable of this object."""
        moved = _loop_invariants_outside(variables)
        replace = {}
        for expression in self._rearrangements(moved):
            replace[expression] = self._shared_for(expression)
        if not replace:  # the graphs as given, not PyTensor's rewritten copy
            return list(variables)
        return list(graph_replace(moved, replace, strict=False))

    def _rearrangements(self, variables):
        """The largest parameter-only data-movement expressions that some
        other computation of ``variables`` reads."""
        params = set(self.params)
        movable = set()
        used_by_others = []
        for node in io_toposort([], list(variables)):
            moves = isinstance(node.op, DATA_MOVEMENT) and all(
                v in params or v in movable or isinstance(v, Constant)
                for v in node.inputs)
            if moves:
                movable.update(node.outputs)
                continue
            used_by_others.extend(v for v in node.inputs if v in movable)
        used_by_others.extend(v for v in variables if v in movable)
        found = []
        for v in used_by_others:
            if v not in found and self._size(v) >= self.min_size:
                found.append(v)
        return found

    def _size(self, expression):
        """Values read from the parameters under ``expression`` (a bound on
        its size; equal for transposes and concatenations)."""
        params = set(self.params)
        return sum(p.get_value(borrow=True).size
                   for p in graph_inputs([expression]) if p in params)

    def _shared_for(self, expression):
        for known, shared in self.entries:
            if equal_computations([known], [expression]):
                return shared
        # the value now, computed by NumPy: the variable's shape must be
        # right before any graph using it is compiled
        value = pytensor.function([], expression, mode=Mode(linker="py", optimizer=None))()
        shared = pytensor.shared(np.array(value), shape=value.shape,
                                 name="cycle_constant%d" % len(self.entries))
        self.entries.append((expression, shared))
        self.function = None
        self._seen = None
        return shared

    def refresh(self):
        """Recompute the variables if any parameter has a new value since
        the last refresh."""
        if not self.entries:
            return
        stored = [p.container.storage[0] for p in self.params]
        if self._seen is not None and all(
                a is b for a, b in zip(stored, self._seen)):
            return
        if self.function is None:
            self.function = function(
                [], [], updates={shared: expression for expression, shared in self.entries},
                backend=self.backend, name="cycle_constants", lazy=True)
        self.function()
        self._seen = stored

    def changed(self):
        """Forget the last refresh: the parameters changed in place."""
        self._seen = None
