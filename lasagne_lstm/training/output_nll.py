"""The language model's output layer and its cross-entropy as one op, with
its gradient computed in the same pass, a chunk of real rows at a time.

For rows ``h_i`` (the last recurrent layer's outputs, flattened over batch
and time), targets ``y_i``, a dense softmax layer ``W, b`` and two weights
per row, ``m_i`` (the mask: which rows are real tokens) and ``w_i`` (the
row's weight in the objective, zero wherever ``m_i`` is)::

    z_i   = h_i W + b
    nll_i = log Σ_j exp(z_ij) - z_{i y_i}
    loss  = Σ_i w_i nll_i            (differentiable in h, W and b)
    nll_sum = Σ_i m_i nll_i,  correct = Σ_i m_i [argmax_j z_ij = y_i]

and, with ``dz_i = w_i (softmax(z_i) - onehot(y_i))``, the gradients
``dh = dz W^T``, ``dW = h^T dz``, ``db = Σ_i dz_i``.

Why one op: the objective is linear in each row's cross-entropy, with
weights known before the forward pass (the mask and the weighting), so the
gradient of ``z`` is known as soon as ``z`` is, and the rows x classes
arrays (56 MB at 1,408 rows of a 10k vocabulary) need never exist whole.
On JAX the rows are taken in equal chunks of about :data:`CHUNK_ROWS`,
real rows first, and the loop stops after the last chunk holding a real
row: each chunk's logits stay in cache while they are used three times,
and chunks of padding alone are skipped (a batch of one chunk is computed
whole, padding included). The NumPy implementation (C and
FAST_COMPILE backends; Numba would run it in object mode, see
:data:`UNFUSED_BACKENDS`) computes on the real rows only.

Measured in one process against the logits computed whole and
differentiated by PyTensor (``python benchmarks/step_variants.py --compare
output --threads 2 --batches 20 --per-call 6``, 2 CPUs): masked steps 1.15x
as many real tokens per CPU second on JAX (1.19 at 1,408 rows, 1.05 and
1.08 at one chunk), micro-batches of 8 1.12x (``--mode accumulate
--micro-batch 8``), stream training 1.12x (``--mode stream --batches 40``)
and 1.18x on the C backend (``--backends c --passes 3``).
"""
import functools

import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import DisconnectedType, disconnected_type, grad_not_implemented
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op

from .. import backends

#: Backends whose step functions compute the logits whole instead: Numba runs
#: this op's ``perform`` in object mode, and its masked steps ran at 0.74x
#: of its own whole-logits ones (``python benchmarks/step_variants.py
#: --compare output --backends numba --threads 2 --passes 3``).
UNFUSED_BACKENDS = ("numba",)

#: Most rows in one chunk: 256 rows of a 10k vocabulary keep a chunk's
#: logits at 10 MB (float32).
CHUNK_ROWS = 256


def chunk_plan(rows, chunk_rows=CHUNK_ROWS):
    """``(chunks, rows per chunk)`` for ``rows`` rows: as many chunks as
    ``chunk_rows`` rows each would need, of one size rounded up to a
    multiple of 8 (so at most 7 rows over ``chunk_rows``)."""
    chunks = max(1, -(-rows // chunk_rows))
    size = -(-rows // chunks)
    return chunks, -(-size // 8) * 8


class DenseSoftmaxNLL(Op):
    """``(loss, nll_sum, correct[, dh, dW, db])`` of a dense softmax output
    layer on rows ``h`` (see the module text).

    Parameters
    ----------
    grads : bool
        Whether to compute the gradients (outputs 3 to 5, and what
        ``pytensor.grad`` of ``loss`` uses); False for evaluation.
    chunk_rows : int
        Most rows per chunk on JAX.

    Inputs: ``h`` (rows, H), ``W`` (H, V), ``b`` (V,), ``y`` (rows,) int,
    ``m`` (rows,) and ``w`` (rows,), all floats of one dtype.
    """

    __props__ = ("grads", "chunk_rows")

    def __init__(self, grads=True, chunk_rows=CHUNK_ROWS):
        self.grads = bool(grads)
        self.chunk_rows = int(chunk_rows)

    def make_node(self, h, W, b, y, m, w):
        h, W, b, m, w = (pt.as_tensor_variable(v) for v in (h, W, b, m, w))
        y = pt.as_tensor_variable(y)
        if (h.ndim, W.ndim, b.ndim, y.ndim, m.ndim, w.ndim) != (2, 2, 1, 1, 1, 1):
            raise TypeError("expected h (rows, H), W (H, V), b (V,), y, m, w (rows,)")
        if not y.dtype.startswith(("int", "uint")):
            raise TypeError("targets must be integers, not %s" % y.dtype)
        dtype = h.dtype
        W, b, m, w = (v.astype(dtype) for v in (W, b, m, w))
        outputs = [pt.scalar(dtype=dtype) for _ in range(3)]
        if self.grads:
            outputs += [h.type(), W.type(), b.type()]
        return Apply(self, [h, W, b, y, m, w], outputs)

    def infer_shape(self, fgraph, node, shapes):
        h, W, b = shapes[:3]
        return [(), (), ()] + ([h, W, b] if self.grads else [])

    def connection_pattern(self, node):
        out = len(node.outputs)
        differentiable = [True] * out
        return [differentiable] * 3 + [[False] * out] + [differentiable] * 2

    def pullback(self, inputs, outputs, output_grads):
        if not self.grads:
            raise NotImplementedError("DenseSoftmaxNLL(grads=False) has no gradient")
        if any(not isinstance(g.type, DisconnectedType) for g in output_grads[1:]):
            raise NotImplementedError("only the weighted loss (output 0) is differentiable")
        g = output_grads[0]
        dh, dW, db = outputs[3:]
        return [g * dh, g * dW, g * db, disconnected_type(),
                grad_not_implemented(self, 4, inputs[4]),
                grad_not_implemented(self, 5, inputs[5])]

    def perform(self, node, inputs, output_storage):
        h, W, b, y, m, w = inputs
        dtype = node.outputs[0].dtype
        totals = np.zeros(3, dtype=dtype)
        grads = (np.zeros_like(h), np.zeros_like(W), np.zeros_like(b)) if self.grads else ()
        real = np.flatnonzero((m != 0) | (w != 0))
        for start in range(0, len(real), self.chunk_rows):
            rows = real[start:start + self.chunk_rows]
            out = _chunk(np, h[rows], W, b, y[rows], m[rows], w[rows], self.grads)
            totals += np.array(out[:3], dtype=dtype)
            if self.grads:
                grads[0][rows] = out[3]
                grads[1][...] += out[4]
                grads[2][...] += out[5]
        values = [np.asarray(t, dtype=dtype) for t in totals] + list(grads)
        for storage, value in zip(output_storage, values):
            storage[0] = value


def _chunk(xp, h, W, b, y, m, w, grads):
    """The op's values on some rows, with array module ``xp`` (NumPy or
    ``jax.numpy``): ``(loss, nll_sum, correct[, dh, dW, db])``."""
    z = h @ W + b
    top = z.max(axis=1)
    e = xp.exp(z - top[:, None])
    total = e.sum(axis=1)
    picked = xp.take_along_axis(z, y[:, None], axis=1)[:, 0]
    nll = xp.log(total) + top - picked
    hit = (xp.argmax(z, axis=1) == y).astype(z.dtype)
    out = ((w * nll).sum(), (m * nll).sum(), (m * hit).sum())
    if not grads:
        return out
    hits = xp.arange(z.shape[1])[None, :] == y[:, None]
    dz = e * (w / total)[:, None] - xp.where(hits, w[:, None], 0).astype(z.dtype)
    return out + (dz @ W.T, h.T @ dz, dz.sum(axis=0))


def dense_softmax_nll(h, W, b, y, m, w, grads=True):
    """The outputs of :class:`DenseSoftmaxNLL` as a list: ``loss`` (to
    differentiate), ``nll_sum`` and ``correct``."""
    return DenseSoftmaxNLL(grads, CHUNK_ROWS)(h, W, b, y, m, w)[:3]


@functools.cache
def _register_jax():
    """JAX code for :class:`DenseSoftmaxNLL`: real rows gathered first,
    then a loop over chunks that ends after the last real row."""
    import jax
    import jax.numpy as jnp
    from pytensor.link.jax.dispatch import jax_funcify

    @jax_funcify.register(DenseSoftmaxNLL)
    def _jax_dense_softmax_nll(op, node, **kwargs):
        def dense_softmax_nll_jax(h, W, b, y, m, w):
            rows = h.shape[0]
            chunks, size = chunk_plan(rows, op.chunk_rows)
            if chunks == 1:  # nothing to skip: every row, as one chunk
                return _chunk(jnp, h, W, b, y, m, w, op.grads)
            real = (m != 0) | (w != 0)
            order = jnp.argsort(~real, stable=True)  # real rows first
            pad = chunks * size - rows
            hs, ys, ms, ws = (jnp.pad(v[order], [(0, pad)] + [(0, 0)] * (v.ndim - 1))
                              for v in (h, y, m, w))

            def chunk(k):
                part = [jax.lax.dynamic_slice_in_dim(v, k * size, size)
                        for v in (hs, ys, ms, ws)]
                return _chunk(jnp, part[0], W, b, *part[1:], op.grads)

            def add_chunk(k, totals):
                out = chunk(k)
                added = tuple(t + o for t, o in zip(totals[:3], out[:3]))
                if not op.grads:
                    return added
                dhs = jax.lax.dynamic_update_slice_in_dim(totals[3], out[3], k * size, 0)
                return added + (dhs, totals[4] + out[4], totals[5] + out[5])

            # one loop from the first chunk: XLA compiles its body once (a
            # first chunk taken out of the loop compiled the chunk twice)
            zero = jnp.zeros((), h.dtype)
            totals = (zero, zero, zero)
            if op.grads:
                totals += (jnp.zeros_like(hs), jnp.zeros_like(W), jnp.zeros_like(b))
            n_chunks = (real.sum() + size - 1) // size
            out = jax.lax.fori_loop(0, n_chunks, add_chunk, totals)
            if not op.grads:
                return out
            dh = jnp.zeros_like(h).at[order].set(out[3][:rows])
            return out[:3] + (dh,) + out[4:]
        return dense_softmax_nll_jax


backends.on_mode("jax", _register_jax)
