"""The training framework, the second floor of the package, built on the
Lasagne API below it. Data flows one way through its modules:

``data`` (tokenization, vocabularies, corpora) → ``batching`` (the bucketing
/ mask generator) → ``steps`` (compiled step functions) → ``engine`` (the
training loop, checkpoints) → ``cli`` (the ``lasagne-lstm`` command).
"""
from .steps import (DEFAULT_LEARNING_RATES, MODES, OPTIMIZERS, WEIGHTINGS,  # noqa: F401
                    StepFunctions, StreamStepFunctions, target_nll)
