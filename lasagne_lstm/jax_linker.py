"""PyTensor's JAX linker, with the buffers of updated shared variables donated.

A compiled function reads the shared variables it updates and returns their
new values. Without donation XLA writes each new value into a freshly
allocated buffer; with donation it may reuse the old value's buffer. That
pays off where little is computed per byte updated: one ``compute_grad``
call on a single short sentence adds a gradient into accumulators of 4M
floats, and donating them made single-sequence accumulation about 10% faster
on the CPU. In the masked training step (parameters and Adam's moments
updated) donation made it 6-11% slower, so :class:`~lasagne_lstm.training.
StepFunctions` asks for it for ``compute_grad`` only (``python
benchmarks/step_variants.py --compare donation [--mode accumulate]``).

The linker donates exactly the inputs that the function's ``updates``
replace (``fgraph.update_mapping``): PyTensor writes the new values into
those shared variables right after the call, so no live value is lost.
A value obtained earlier with ``get_value(borrow=True,
return_internal_type=True)`` is an alias of the donated buffer and becomes
invalid after the next call; ``get_value()`` (a copy) is unaffected.
"""
import warnings

from pytensor.link.jax.linker import JAXLinker

# Inputs that are NumPy arrays (a value just set with ``set_value``) cannot be
# donated; JAX then copies them as usual and warns, once per call.
warnings.filterwarnings("ignore", message="Some donated buffers were not usable")


class DonatingJAXLinker(JAXLinker):
    """``JAXLinker`` whose ``jax.jit`` donates the updated shared inputs."""

    def jit_compile(self, fn):
        import jax

        static = tuple(self.scalar_shape_inputs)
        updated = set((self.fgraph.update_mapping or {}).values())
        donated = tuple(sorted(updated.difference(static)))
        jit_fn = jax.jit(fn, static_argnums=static, donate_argnums=donated)
        if not static:
            return jit_fn

        def with_static_shapes(*args):
            # as in JAXLinker: scalar shape inputs must be Python ints for jit
            return jit_fn(*(int(a) if i in static else a for i, a in enumerate(args)))

        return with_static_shapes
