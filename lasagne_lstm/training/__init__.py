"""The training framework, the second floor of the package, built on the
Lasagne API below it. Data flows one way through its modules:

``data`` (tokenization, vocabularies, corpora) → ``batching`` (the bucketing
/ mask generator) → ``core`` (the two training modes for any network) and
``steps`` (the built-in models' step functions on it, with ``output_nll``: a
language model's output layer and cross-entropy as one op) → ``feeds`` (what one
update consumes) → ``engine`` (the training loop, with ``checkpoint``) →
``cli`` (the ``lasagne-lstm`` command). ``config`` defines every setting of a
run once.
"""
from .core import (DEFAULT_LEARNING_RATES, OPTIMIZERS, GradientAccumulator,  # noqa: F401
                   MaskedStep, UpdateRule, accumulation_functions, masked_step)
from .steps import (MODES, WEIGHTINGS, StepFunctions, StreamStepFunctions,  # noqa: F401
                    target_nll)
