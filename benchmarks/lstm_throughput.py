"""Real-token training throughput of an LSTM language model: lasagne-lstm
(masked and gradient-accumulation modes, each PyTensor backend) against
PyTorch's CPU ``nn.LSTM`` (packed sequences) and an ``LSTMCell`` loop.

The workload is the same for every configuration: a word-level language
model (vocabulary of the 10,000 most frequent words, embedding 128, one LSTM
layer of 256 units, softmax over the vocabulary at every step), Adam
(learning rate 1e-3), batches of 32 real sentences of a corpus (Shakespeare
by default, lower-cased, at most 60 steps each), float32. lasagne-lstm's LSTM
clips the gradient of the gate pre-activations at every step
(``grad_clipping=5``, as in Lasagne).

Configurations (``--configs`` picks some):

``masked-pool-<backend>``
    one compiled ``train(X, mask, y)`` per update on length-bucketed batches
    (``BucketIterator(strategy="pool")``);
``masked-none-<backend>``
    the same on random batches without bucketing (more padding);
``accum-mb1-<backend>``, ``accum-mb8-<backend>``
    accumulation mode: ``compute_grad`` on each sequence (mb1: unpadded and
    unmasked, except on JAX where single sequences are padded to a multiple
    of 8 and masked) or on micro-batches of 8, then ``apply_mean_grad`` —
    one update per bucketed batch of 32. By default only on the backend that
    was fastest in masked mode; ``--full`` runs them on every backend;
``ported-script-jax``, ``ported-script-numba`` (the ``ported-script`` family)
    the same workload written as a Lasagne-era script on the port's three
    modules only (``import lasagne_lstm as lasagne``, ``import
    lasagne_lstm.theano as theano``, ``import lasagne_lstm.theano.tensor as
    T``; see ``ported_script``): ``EmbeddingLayer`` → ``LSTMLayer(...,
    grad_clipping=5, mask_input=l_mask)`` → ``ReshapeLayer(l, (-1, 256))`` →
    ``DenseLayer(..., nonlinearity=softmax)``, the loss
    ``aggregate(categorical_crossentropy(prediction, y.flatten()),
    mask.flatten(), mode='normalized_sum')``, ``lasagne.updates.adam`` and
    ``theano.function([x, mask, y], loss, updates=updates)``. ``-jax``: the
    default backend (one compile per input shape), each batch padded with
    ``lasagne.utils.pad_to_ladder(X, mask, y)`` in the step (the widths of
    ``masked-pool-jax``); ``-numba``: ``mode='numba'`` on the batches padded
    to their longest row (those of ``masked-pool-numba``). Their records add
    ``compile_seconds_per_shape`` and ``shapes_seen``. ``--quick`` leaves
    ``ported-script-numba`` out (its cold compile takes minutes); naming it
    in ``--configs`` runs it;
``torch-packed``
    ``nn.Embedding`` → ``nn.LSTM`` on ``pack_padded_sequence`` → ``nn.Linear``
    on the packed outputs → cross-entropy over the real tokens;
``torch-cell``
    ``nn.LSTMCell`` stepped over the padded batch, the mask keeping each
    row's state after its end; output layer on the real positions only.

Every configuration consumes the same list of bucketed batches (the first
``--batches`` batches of epoch 0; JAX pads widths to the library's ladder
4, 8, 12, 16, 24, 32, 44, 60 because it compiles one function per shape,
which changes padding, not rows), except
``masked-none-*``, whose batches are the first ``--batches`` of the
unbucketed epoch.

What is reported for each configuration:

* ``tokens_per_s``: real tokens (the mask's sum) divided by the wall-clock
  time of the timed updates (after compilation and ``--warmup`` untimed
  updates). With ``--repeats R`` the timed pass runs R times in the same
  process, and ``--rounds K`` runs the whole list K times (fresh processes);
  the median is reported, with the min and max of all passes as the spread;
* ``cpu_per_wall`` and ``tokens_per_cpu_s``: CPU time / wall time of the
  timed passes, and real tokens per CPU second (fairer than tokens/s when
  the machine's cores are shared with other work);
* ``compile_s``: time of the first call minus a warm call on the same batch,
  summed over every batch that brought a new input shape (JAX: one compile
  per shape); ``build_s``: building the symbolic graph and update rule;
* ``peak_rss_mb``: the worker process's peak resident memory
  (``ru_maxrss``); ``rss_delta_mb``: that peak minus the peak just before the
  model was built (imports and data excluded). Each configuration runs in
  its own subprocess, so peaks, compile caches and thread pools do not leak
  between them;
* ``padding_fraction``: padded cells / all cells the step functions saw;
* ``ratio_vs_torch_packed``: tokens/s divided by ``torch-packed``'s (the top
  level ``ratio_vs_torch_packed`` is that of our fastest configuration;
  ``ratio_vs_torch_packed_per_cpu_s`` the same per CPU second).

Threads: ``--threads N`` (default: every CPU this process may use, what a
user runs with) sets OMP/MKL/OpenBLAS/Numba thread counts and
``torch.set_num_threads`` for every configuration, and pins each
configuration's process to the N least busy CPUs (``sched_setaffinity``,
before any library starts its thread pool; ``--no-pin`` turns that off).
``--threads 1`` is the per-CPU view: one pinned thread each.
Pinning is needed because XLA's CPU runtime sizes its thread pool from the
CPUs it may use and ignores the thread variables: unpinned, JAX used ~1.8
cores with N=1. The ``cpu`` column (process CPU time / wall time over the
timed passes) shows what each configuration really used.

Compile caches: PyTensor's ``base_compiledir`` (its C modules and Numba's
cache) is ``.pytensor_cache/bench`` under the repository and JAX's
persistent cache ``.pytensor_cache/bench/lasagne_lstm`` (through
``LASAGNE_LSTM_CACHE``), both set before PyTensor is imported; so
``compile_s`` in the main table is a *warm-cache* figure from the second run
on. The cold/warm section (skipped by ``--quick`` and ``--skip-cold``)
compiles the masked training graph of each backend once with fresh, empty
cache folders (cold) and once more with the folders the cold run filled
(warm), on the first batch (one shape).

Examples::

    python benchmarks/lstm_throughput.py --quick --json
    python benchmarks/lstm_throughput.py                # 11-15 min on 2 CPUs, before ported-script
    python benchmarks/lstm_throughput.py --configs ported-script-jax,ported-script-numba,torch-packed
    python benchmarks/lstm_throughput.py --full --threads 2
    python benchmarks/lstm_throughput.py --configs masked-pool-c,torch-packed

GPU (``--device gpu``): lasagne-lstm on the JAX backend with JAX's CUDA
platform (parameters, optimizer state and accumulators stay on the GPU
between calls: PyTensor's JAX linker keeps the updated shared values as
device arrays), against ``torch-packed`` and ``torch-cell`` on the same GPU
(``nn.LSTM`` there runs cuDNN). Only the ``jax`` backend runs; processes are
not pinned, and peak GPU memory is reported next to the host's RSS. Needs
``jax[cuda12]`` and a CUDA build of PyTorch; each worker checks that its
framework sees a GPU and fails with a clear message otherwise. Timing is
sound on the GPU because every step returns the loss to Python (a device
synchronisation) before the clock is read.

PyTorch (CPU build) is an optional benchmark dependency
(``pip install -e .[bench]``); without it the peer rows are skipped.
"""
import argparse
import importlib.util
import json
import os
import pathlib
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
CACHE = ROOT / ".pytensor_cache" / "bench"
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
               "NUMBA_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")
ALL_BACKENDS = ("c", "numba", "jax")
RESULT_TAG = "@@RESULT "

NOTES = [
    "lasagne-lstm: per-step grad_clipping=5 on the gate pre-activations "
    "(Lasagne's LSTMLayer), peephole connections, Adam lr 1e-3, loss = summed "
    "token losses / real tokens of the batch; the output layer is computed on "
    "every cell of the padded batch (padding masked out of the loss).",
    "torch-packed / torch-cell: nn.LSTM and nn.LSTMCell have no per-step "
    "gradient clipping and no peepholes; they clip the global gradient norm "
    "with clip_grad_norm_ (--torch-clip-norm, 0 = none) instead; output layer "
    "only on real tokens; Adam lr 1e-3.",
    "accum-mb1 on c/numba: single unpadded sequences, no mask (32 compute_grad "
    "calls + 1 apply_mean_grad per update); on jax single sequences are "
    "padded to the width ladder (4, 8, 12, 16, 24, ...) and masked.",
    "every configuration runs in its own process, pinned to --threads CPUs "
    "(cpu column = CPU time / wall time while timed).",
    "jax: one compiled function per input shape (batch widths padded to the "
    "ladder 4, 8, 12, 16, 24, 32, 44, 60); compile_s is the sum over the "
    "shapes met.",
    "ported-script-*: the workload as a Lasagne script on lasagne_lstm, "
    "lasagne_lstm.theano and lasagne_lstm.theano.tensor only (softmax "
    "DenseLayer, categorical_crossentropy of the probabilities, aggregate "
    "'normalized_sum', lasagne.updates.adam, theano.function); jax: widths "
    "padded with lasagne.utils.pad_to_ladder, numba: mode='numba' on batches "
    "padded to their longest row.",
]


# -- command line ------------------------------------------------------------
def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__ + "\nResults and their discussion: "
        "benchmarks/README.md.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Configuration names: masked-pool-<b>, masked-none-<b>, "
               "accum-mb1-<b>, accum-mb8-<b> (b in c, numba, jax), "
               "ported-script-jax, ported-script-numba, "
               "torch-packed, torch-cell. --quick sets "
               "--batches 6 --warmup 1 --repeats 1, skips the cold/warm "
               "compile section and leaves ported-script-numba out (explicit "
               "flags and --configs still win).")
    p.add_argument("--quick", action="store_true",
                   help="small smoke run, under 3 minutes with warm caches")
    p.add_argument("--full", action="store_true",
                   help="accumulation mode on every backend, not only on the "
                        "fastest masked one")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object (all fields) instead of a table")
    p.add_argument("--markdown", action="store_true",
                   help="print the results as Markdown tables (as in "
                        "benchmarks/README.md) instead of plain text")
    p.add_argument("--render", metavar="PATH", default=None,
                   help="run nothing: print the report saved with --save at "
                        "PATH (as text, or with --markdown / --json)")
    p.add_argument("--save", metavar="PATH", default=None,
                   help="also write the JSON object to PATH")
    p.add_argument("--device", choices=("cpu", "gpu"), default="cpu",
                   help="cpu (default), or gpu: JAX on CUDA against PyTorch's "
                        "cuDNN nn.LSTM on the same GPU (jax backend only, "
                        "processes not pinned)")
    p.add_argument("--threads", type=int, default=None,
                   help="threads for every framework: OMP/MKL/OpenBLAS/Numba "
                        "and torch.set_num_threads (default: every CPU this "
                        "process may use, %d here; 1 gives the per-CPU view)"
                        % available_cpus())
    p.add_argument("--no-pin", action="store_true",
                   help="do not pin each configuration's process to --threads "
                        "CPUs (by default it is pinned to the least busy ones, "
                        "because XLA's CPU thread pool ignores the thread "
                        "variables)")
    p.add_argument("--backends", default=None,
                   help="comma-separated PyTensor backends to try (default: "
                        "those available of c, numba, jax)")
    p.add_argument("--configs", default=None,
                   help="comma-separated configuration names to run (default: "
                        "all; see below)")
    p.add_argument("--corpus", default="shakespeare",
                   help="corpus name or text path (default shakespeare)")
    p.add_argument("--max-sequences", type=int, default=None,
                   help="sentences loaded from the corpus (default 20000, "
                        "which gives the full 10,000-word vocabulary)")
    p.add_argument("--vocab-size", type=int, default=10000,
                   help="vocabulary size (default 10000)")
    p.add_argument("--embedding", type=int, default=128, help="(default 128)")
    p.add_argument("--hidden", type=int, default=256, help="LSTM units (256)")
    p.add_argument("--grad-clipping", type=float, default=5.0,
                   help="lasagne-lstm per-step gradient clipping (5)")
    p.add_argument("--torch-clip-norm", type=float, default=5.0,
                   help="PyTorch peers: clip_grad_norm_ max norm each update "
                        "(default 5; 0 = no clipping)")
    p.add_argument("--batch-size", type=int, default=32, help="(default 32)")
    p.add_argument("--max-len", type=int, default=60,
                   help="longer sentences are truncated (default 60)")
    p.add_argument("--batches", type=int, default=None,
                   help="timed batches per pass (default 40; quick 6)")
    p.add_argument("--warmup", type=int, default=None,
                   help="untimed updates after compiling (default 2; quick 1)")
    p.add_argument("--repeats", type=int, default=None,
                   help="timed passes per configuration; median reported, "
                        "min/max as spread (default 3; quick 1)")
    p.add_argument("--rounds", type=int, default=1,
                   help="run the whole list of configurations this many times, "
                        "one after the other (each in a fresh process), and "
                        "report the median of the rounds; spreads contention "
                        "from other work over time (default 1)")
    p.add_argument("--max-seconds", type=float, default=120.0,
                   help="stop a timed pass after this many seconds (default "
                        "120); the batches done so far count")
    p.add_argument("--timeout", type=float, default=900.0,
                   help="kill a configuration's subprocess after this many "
                        "seconds (default 900)")
    p.add_argument("--skip-cold", action="store_true",
                   help="skip the cold/warm compile-time section")
    p.add_argument("--cold", action="store_true",
                   help="run the cold/warm compile section even with --quick")
    p.add_argument("--seed", type=int, default=0, help="(default 0)")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    defaults = dict(max_sequences=(20000, 20000), batches=(6, 40),
                    warmup=(1, 2), repeats=(1, 3))
    for key, (quick, normal) in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, quick if args.quick else normal)
    if args.threads is None:
        args.threads = available_cpus()
    if args.threads < 1:
        p.error("--threads must be at least 1")
    if args.device == "gpu":
        # the host's CPUs feed the GPU and compile for it: no pinning
        args.no_pin = True
        if args.backends and args.backends.strip() != "jax":
            p.error("--device gpu runs the jax backend only")
        args.backends = "jax"
    return args


# -- environment -------------------------------------------------------------
def available_cpus():
    """CPUs this process may run on (its affinity), else the machine's count."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def add_threads_argument(parser):
    """``--threads``, defaulting to the CPUs this process may use, for the
    scripts that run one process on the workload."""
    parser.add_argument("--threads", type=int, default=available_cpus(),
                        help="CPUs to use (default: every CPU this process may use, "
                             "%(default)s)")


def worker_env(threads, cache_root=None, force_cache=False, device="cpu"):
    """Environment of a worker subprocess: thread counts, JAX's platform,
    PyTensor flags and the JAX cache folder (``cache_root`` defaults to
    .pytensor_cache/bench)."""
    env = dict(os.environ)
    for var in THREAD_VARS:
        env[var] = str(threads)
    if device == "gpu":
        env["JAX_PLATFORMS"] = "cuda"
        # allocate as needed, so that the peak memory reported means something
        env["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"
    else:
        # a CPU benchmark stays on the CPU even on a machine with a GPU
        env["JAX_PLATFORMS"] = "cpu"
        if threads == 1:
            xla = env.get("XLA_FLAGS", "")
            env["XLA_FLAGS"] = (xla + " --xla_cpu_multi_thread_eigen=false").strip()
    root = pathlib.Path(cache_root or CACHE)
    ours = "base_compiledir=%s,floatX=float32" % root
    existing = env.get("PYTENSOR_FLAGS")
    if existing:
        # the user's flags win, except for a deliberately fresh (cold) cache
        ours = existing + "," + ours if force_cache else ours + "," + existing
    env["PYTENSOR_FLAGS"] = ours
    if force_cache or "LASAGNE_LSTM_CACHE" not in os.environ:
        env["LASAGNE_LSTM_CACHE"] = str(root / "lasagne_lstm")
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"]
                                     if env.get("PYTHONPATH") else "")
    return env


def available_backends():
    out = []
    if shutil.which(os.environ.get("CXX", "g++")) or shutil.which("c++"):
        out.append("c")
    if importlib.util.find_spec("numba"):
        out.append("numba")
    if importlib.util.find_spec("jax"):
        out.append("jax")
    return out


def git_state():
    """The commit benchmarked and whether the library's files had changes."""
    def git(*argv):
        try:
            return subprocess.run(("git",) + argv, capture_output=True, text=True,
                                  cwd=str(ROOT), timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""
    return dict(commit=git("rev-parse", "--short", "HEAD") or None,
                library_changes=git("status", "--porcelain", "--",
                                    "lasagne_lstm").splitlines())


def cpu_model():
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True,
                              timeout=10).stdout
        for line in text.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return platform.processor() or "unknown"


# -- the worker (one configuration, in its own process) ----------------------
def _maxrss_mb():
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def load_batches(spec, strategy, backend, mask_dtype="float32", padding=None):
    """The first ``spec['batches']`` batches of epoch 0, built as
    :class:`lasagne_lstm.training.engine.Run` builds them for ``backend`` (its padded
    widths, unless ``padding=(pad_multiple, pad_growth)``), and the
    vocabulary."""
    from lasagne_lstm.backends import default_padding
    from lasagne_lstm.training.batching import BucketIterator
    from lasagne_lstm.training.data import Vocabulary, load_corpus
    from lasagne_lstm.training.engine import encode_split
    corpus = load_corpus(spec["corpus"], task="lm", level="word", lowercase=True,
                         seed=spec["seed"], max_sequences=spec["max_sequences"])
    vocab = Vocabulary.build(corpus.train, min_count=1,
                             max_size=spec["vocab_size"], level="word")
    seqs, _ = encode_split(vocab, corpus, "train")
    # "torch" (not a backend): each batch padded to its longest row
    multiple, growth = padding or default_padding(backend)
    iterator = BucketIterator(seqs, batch_size=spec["batch_size"],
                              strategy=strategy, task="lm",
                              max_len=spec["max_len"], overflow="truncate",
                              pad_id=vocab.pad_id, seed=spec["seed"],
                              pad_multiple=multiple, pad_growth=growth,
                              mask_dtype=mask_dtype)
    batches = iterator.epoch(0)[:spec["batches"]]
    for b in batches:
        b.arrays()  # build the padded arrays outside the timed region
    return vocab, batches


def _time_passes(step, batches, spec):
    """Untimed warm-up, then ``repeats`` timed passes over ``batches``."""
    for b in batches[:spec["warmup"]]:
        step(b)
    passes = []
    n_batches = len(batches)
    last_loss = None
    for _ in range(spec["repeats"]):
        tokens, done, loss_sum = 0, 0, 0.0
        c0 = time.process_time()
        t0 = time.perf_counter()
        for b in batches[:n_batches]:
            loss, _ = step(b)
            loss_sum += loss
            tokens += b.n_tokens
            done += 1
            if time.perf_counter() - t0 > spec["max_seconds"]:
                break
        seconds = time.perf_counter() - t0
        cpu = time.process_time() - c0
        n_batches = done
        passes.append(dict(tokens=tokens, seconds=seconds, batches=done,
                           tokens_per_s=tokens / seconds,
                           tokens_per_cpu_s=tokens / max(cpu, 1e-9),
                           cpu_per_wall=cpu / seconds))
        last_loss = loss_sum / max(tokens, 1)
    rates = [p["tokens_per_s"] for p in passes]
    return dict(tokens_per_s=statistics.median(rates),
                tokens_per_s_min=min(rates), tokens_per_s_max=max(rates),
                cpu_per_wall=statistics.median(p["cpu_per_wall"] for p in passes),
                tokens_per_cpu_s=statistics.median(p["tokens_per_cpu_s"]
                                                   for p in passes),
                passes=passes, timed_batches=n_batches,
                timed_tokens=passes[-1]["tokens"],
                mean_loss_last_pass=last_loss)


def _compile_on(step, batches, shape_keys):
    """First call minus a warm call, on every batch that brings a new shape."""
    seen, compile_s, first_s, warm_s, shapes = set(), 0.0, 0.0, 0.0, 0
    for b in batches:
        keys = shape_keys(b)
        if keys <= seen:
            continue
        seen |= keys
        t0 = time.perf_counter()
        step(b)
        t1 = time.perf_counter()
        step(b)
        t2 = time.perf_counter()
        compile_s += max((t1 - t0) - (t2 - t1), 0.0)
        first_s += t1 - t0
        warm_s += t2 - t1
        shapes += 1
    return dict(compile_s=compile_s, first_calls_s=first_s, warm_calls_s=warm_s,
                compiled_batches=shapes)


def lm_config(spec, vocab_size):
    """The benchmark's model settings: embedding, one LSTM layer with
    per-step clipping, no dropout (the rest as the library's defaults)."""
    from lasagne_lstm.training.engine import DEFAULTS, MODEL_KEYS
    config = {k: DEFAULTS[k] for k in MODEL_KEYS}
    config.update(task="lm", vocab_size=vocab_size, embedding=spec["embedding"],
                  hidden=spec["hidden"], layers=1, cell="lstm",
                  grad_clipping=spec["grad_clipping"], dropout=0.0)
    return config


def worker_ours(spec):
    import numpy as np
    import pytensor
    from lasagne_lstm import backends
    from lasagne_lstm.training.models import build_model
    from lasagne_lstm.random import set_rng
    from lasagne_lstm.training import StepFunctions

    backend, mode, mb = spec["backend"], spec["mode"], spec["micro_batch"]
    static = backends.needs_static_shapes(backend)
    gpu = spec["device"] == "gpu"
    if gpu:
        require_jax_gpu()
    pytensor.config.floatX = "float32"
    set_rng(np.random.RandomState(spec["seed"]))
    vocab, batches = load_batches(spec, spec["bucketing"], backend)
    rss_before = _maxrss_mb()

    t0 = time.perf_counter()
    model = build_model(lm_config(spec, len(vocab)))
    steps = StepFunctions(model, mode=mode, optimizer="adam",
                          backend=backend, weighting="tokens")
    build_s = time.perf_counter() - t0

    def step(b):
        return steps.train_batch(b, mb)

    def shape_keys(b):
        if not static:
            return {"any"}
        if mode == "masked":
            return {b.X.shape}
        return {mb_.X.shape for mb_ in b.micro_batches(mb)}

    def cells(b):
        if mode == "masked":
            return b.X.size
        if mb == 1 and not static:
            return b.n_tokens
        return sum(m.X.size for m in b.micro_batches(mb))

    out = dict(build_s=build_s)
    out.update(_compile_on(step, batches if spec["all_shapes"] else batches[:1],
                           shape_keys))
    if mode == "accumulate":
        # every shape of the factored gradients' products (the output
        # layer's weights, added 512 rows at a time), as training compiles
        # them ahead of use, so that no timed pass compiles
        t0 = time.perf_counter()
        ahead = steps.compile_ahead(batches[:1], mb)
        if ahead is not None:
            ahead.join()
        out["compile_s"] += time.perf_counter() - t0
    out["compiled_functions"] = steps.compiled_functions
    if not spec["compile_only"]:
        out.update(_time_passes(step, batches, spec))
        n = out["timed_batches"]
        tokens = sum(b.n_tokens for b in batches[:n])
        out["padding_fraction"] = 1.0 - tokens / sum(cells(b) for b in batches[:n])
    out.update(rss_before_mb=rss_before, peak_rss_mb=_maxrss_mb(),
               vocab=len(vocab), pytensor=pytensor.__version__,
               compiledir=str(pytensor.config.compiledir))
    if backend == "jax":
        import jax
        out["jax"] = jax.__version__
        out["jax_device"] = jax.devices()[0].device_kind
        # where the accumulators (or the parameters) live between calls
        shared = (steps.accumulators if mode == "accumulate"
                  else list(model.params.values()))
        out["shared_values_on"] = value_devices(shared)
    if gpu:
        out.update(jax_gpu_memory())
    out["rss_delta_mb"] = out["peak_rss_mb"] - rss_before
    return out


#: The backends of the ported-script rows: jax (the default, as the script
#: is written) and numba (``mode='numba'``).
PORTED_BACKENDS = ("jax", "numba")


def ported_script(vocab_size, embedding, hidden, grad_clipping, mode=None):
    """The workload as a Lasagne-era script writes it, on the three modules
    of the port and nothing else. ``mode`` is passed to ``theano.function``
    (None: the project's default backend, JAX). Returns the compiled
    ``train(x, mask, y)`` (it returns the normalised loss) and the network's
    parameters."""
    import lasagne_lstm as lasagne
    import lasagne_lstm.theano as theano
    import lasagne_lstm.theano.tensor as T

    x = T.imatrix("x")
    mask = T.matrix("mask")
    y = T.imatrix("y")

    l_in = lasagne.layers.InputLayer((None, None), input_var=x)
    l_mask = lasagne.layers.InputLayer((None, None), input_var=mask)
    l_emb = lasagne.layers.EmbeddingLayer(l_in, input_size=vocab_size,
                                          output_size=embedding)
    l_lstm = lasagne.layers.LSTMLayer(l_emb, hidden, grad_clipping=grad_clipping,
                                      mask_input=l_mask)
    l_flat = lasagne.layers.ReshapeLayer(l_lstm, (-1, hidden))
    l_out = lasagne.layers.DenseLayer(l_flat, num_units=vocab_size,
                                      nonlinearity=lasagne.nonlinearities.softmax)

    prediction = lasagne.layers.get_output(l_out)
    loss = lasagne.objectives.categorical_crossentropy(prediction, y.flatten())
    loss = lasagne.objectives.aggregate(loss, mask.flatten(), mode="normalized_sum")
    params = lasagne.layers.get_all_params(l_out, trainable=True)
    updates = lasagne.updates.adam(loss, params, learning_rate=1e-3)

    if mode is None:
        train = theano.function([x, mask, y], loss, updates=updates)
    else:
        train = theano.function([x, mask, y], loss, updates=updates, mode=mode)
    return train, params


def worker_ported(spec):
    """``ported-script-<backend>``: :func:`ported_script` on the benchmark's
    bucketed batches. JAX (the default backend, one compile per shape) gets
    each batch padded to the width ladder with ``lasagne.utils.pad_to_ladder``
    inside the step, as a script would do it; Numba gets the batches as the
    library pads them for a dynamic-shape backend (to their longest row)."""
    import numpy as np
    import pytensor
    import lasagne_lstm as lasagne
    from lasagne_lstm import backends

    backend = spec["backend"]
    gpu = spec["device"] == "gpu"
    if gpu:
        require_jax_gpu()
    if backend == "jax":
        # the script names no backend: the project's default must be JAX here
        os.environ.pop(backends.BACKEND_VARIABLE, None)
    pytensor.config.floatX = "float32"
    lasagne.random.set_rng(np.random.RandomState(spec["seed"]))
    # every batch padded to its longest row (the dynamic-shape padding)
    vocab, batches = load_batches(spec, "pool", "numba")
    rss_before = _maxrss_mb()

    t0 = time.perf_counter()
    train, params = ported_script(len(vocab), spec["embedding"], spec["hidden"],
                                  spec["grad_clipping"],
                                  mode=None if backend == "jax" else backend)
    build_s = time.perf_counter() - t0
    # on a dynamic-shape backend theano.function compiles before returning
    construct_compile_s = train.compile_seconds
    linker = type(train.mode.linker).__name__
    expected = "JAXLinker" if backend == "jax" else "NumbaLinker"
    if linker != expected:
        raise SystemExit("ported-script-%s compiled with %s, not %s"
                         % (backend, linker, expected))

    if backend == "jax":
        def arrays(b):
            return lasagne.utils.pad_to_ladder(b.X, b.mask, b.y)
    else:
        def arrays(b):
            return b.X, b.mask, b.y

    def width(b):
        return (lasagne.utils.ladder_width(b.X.shape[1], 4, 1.3)
                if backend == "jax" else b.X.shape[1])

    def step(b):
        X, mask, y = arrays(b)
        loss = train(X, mask, y)
        # the per-token loss, back to a sum so the pass's mean loss compares
        return float(loss) * b.n_tokens, b.n_tokens

    # first call minus a warm call on each batch with a new shape, and
    # what the function object itself counted (JAX: per shape, first call
    # included; Numba: the compile in theano.function)
    per_shape, seen = [], set()
    first_s = warm_s = 0.0
    for b in (batches if spec["all_shapes"] else batches[:1]):
        key = (b.X.shape[0], width(b)) if train.static else "any"
        if key in seen:
            continue
        seen.add(key)
        before = train.compile_seconds
        t0 = time.perf_counter()
        step(b)
        t1 = time.perf_counter()
        step(b)
        t2 = time.perf_counter()
        first_s += t1 - t0
        warm_s += t2 - t1
        per_shape.append(dict(
            shape=list(key) if train.static else None,
            first_minus_warm_s=max((t1 - t0) - (t2 - t1), 0.0),
            compile_seconds=train.compile_seconds - before
            + (construct_compile_s if not train.static else 0.0)))
    out = dict(build_s=build_s - construct_compile_s,
               compile_s=construct_compile_s + sum(p["first_minus_warm_s"]
                                                   for p in per_shape),
               first_calls_s=first_s, warm_calls_s=warm_s,
               compiled_batches=len(per_shape),
               function_compile_seconds=train.compile_seconds,
               compile_seconds_per_shape=per_shape,
               shapes_seen=train.shapes_seen if train.static else 1,
               compiled_functions=train.compiled,
               linker=linker)
    if not spec["compile_only"]:
        out.update(_time_passes(step, batches, spec))
        n = out["timed_batches"]
        tokens = sum(b.n_tokens for b in batches[:n])
        cells = sum(b.X.shape[0] * width(b) for b in batches[:n])
        out["padding_fraction"] = 1.0 - tokens / cells
        # the counters again: a timed pass must not have compiled anything
        out["function_compile_seconds_end"] = train.compile_seconds
        out["shapes_seen_end"] = train.shapes_seen if train.static else 1
    out.update(rss_before_mb=rss_before, peak_rss_mb=_maxrss_mb(),
               vocab=len(vocab), pytensor=pytensor.__version__,
               compiledir=str(pytensor.config.compiledir))
    if backend == "jax":
        import jax
        out["jax"] = jax.__version__
        out["jax_device"] = jax.devices()[0].device_kind
        out["shared_values_on"] = value_devices(params)
    if gpu:
        out.update(jax_gpu_memory())
    out["rss_delta_mb"] = out["peak_rss_mb"] - rss_before
    return out


def require_jax_gpu():
    try:
        import jax
        return jax.devices("gpu")
    except Exception as exc:  # JAX raises RuntimeError or AssertionError here
        raise SystemExit("--device gpu: JAX sees no GPU (%s: %s); install "
                         "jax[cuda12] on a machine with an NVIDIA GPU"
                         % (type(exc).__name__, (str(exc) or "no detail").splitlines()[0][:80]))


def jax_gpu_memory():
    import jax
    stats = jax.devices()[0].memory_stats() or {}
    peak = stats.get("peak_bytes_in_use")
    return dict(peak_device_mb=peak / 2 ** 20 if peak is not None else None)


def value_devices(variables):
    """Where the current values of shared variables live (e.g. 'cuda:0' for
    JAX arrays on the GPU, 'host' for NumPy arrays)."""
    places = set()
    for v in variables:
        value = v.get_value(borrow=True, return_internal_type=True)
        devices = getattr(value, "devices", None)
        if devices is None:
            places.add("host")
        else:
            places.update(str(d) for d in devices())
    return sorted(places)


def torch_setup(spec):
    """Import torch with the spec's thread count and seed."""
    import torch
    torch.set_num_threads(spec["threads"])
    try:
        torch.set_num_interop_threads(spec["threads"])
    except RuntimeError:  # already set in this process
        pass
    torch.manual_seed(spec["seed"])
    return torch


def worker_torch(spec):
    import numpy as np
    import torch.nn as nn
    import torch.nn.functional as F
    from torch.nn.utils.rnn import pack_padded_sequence

    torch = torch_setup(spec)
    device = torch.device("cuda" if spec["device"] == "gpu" else "cpu")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device gpu: PyTorch sees no CUDA GPU; install a "
                         "CUDA build of torch on a machine with an NVIDIA GPU")
    vocab, batches = load_batches(spec, "pool", "torch")
    rss_before = _maxrss_mb()
    V, E, H = len(vocab), spec["embedding"], spec["hidden"]
    packed = spec["kind"] == "torch-packed"

    class LM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(V, E)
            if packed:
                self.lstm = nn.LSTM(E, H, batch_first=True)
            else:
                self.cell = nn.LSTMCell(E, H)
            self.output = nn.Linear(H, V)

        def forward(self, X, Y, lengths, mask):
            e = self.embedding(X)
            if packed:
                seq = pack_padded_sequence(e, lengths, batch_first=True,
                                           enforce_sorted=False)
                out, _ = self.lstm(seq)
                targets = pack_padded_sequence(Y, lengths, batch_first=True,
                                               enforce_sorted=False).data
                hidden = out.data
            else:
                B, T = X.shape
                h = e.new_zeros(B, H)
                c = e.new_zeros(B, H)
                hs = []
                for t in range(T):
                    h_new, c_new = self.cell(e[:, t], (h, c))
                    m = mask[:, t].unsqueeze(1)
                    h = m * h_new + (1 - m) * h
                    c = m * c_new + (1 - m) * c
                    hs.append(h)
                real = mask > 0
                hidden = torch.stack(hs, 1)[real]
                targets = Y[real]
            logits = self.output(hidden)
            return F.cross_entropy(logits, targets, reduction="sum"), targets.numel()

    t0 = time.perf_counter()
    model = LM().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    params = list(model.parameters())
    build_s = time.perf_counter() - t0
    clip = spec["torch_clip_norm"]

    def step(b):
        X = torch.from_numpy(b.X).long().to(device)
        Y = torch.from_numpy(b.y).long().to(device)
        # pack_padded_sequence wants the lengths on the CPU
        lengths = torch.from_numpy(np.asarray(b.lengths, dtype=np.int64))
        mask = torch.from_numpy(b.mask).to(device)
        opt.zero_grad(set_to_none=True)
        loss_sum, n = model(X, Y, lengths, mask)
        (loss_sum / n).backward()
        if clip:
            torch.nn.utils.clip_grad_norm_(params, clip)
        opt.step()
        return float(loss_sum), n  # float(): waits for the device

    out = dict(build_s=build_s)
    out.update(_compile_on(step, batches[:1], lambda b: {"any"}))
    if not spec["compile_only"]:
        out.update(_time_passes(step, batches, spec))
        n = out["timed_batches"]
        tokens = sum(b.n_tokens for b in batches[:n])
        out["padding_fraction"] = (0.0 if packed else
                                   1.0 - tokens / sum(b.X.size for b in batches[:n]))
    out.update(rss_before_mb=rss_before, peak_rss_mb=_maxrss_mb(),
               vocab=V, torch=torch.__version__,
               torch_threads=torch.get_num_threads())
    if device.type == "cuda":
        out.update(torch_device=torch.cuda.get_device_name(device),
                   cudnn=torch.backends.cudnn.version(),
                   peak_device_mb=torch.cuda.max_memory_allocated(device) / 2 ** 20)
    out["rss_delta_mb"] = out["peak_rss_mb"] - rss_before
    return out


def _cpu_times():
    times = {}
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("cpu") and line[3:4].isdigit():
                parts = line.split()
                values = [int(v) for v in parts[1:]]
                times[int(parts[0][3:])] = (values[3] + values[4], sum(values))
    return times


def pin_cpus(n):
    """Restrict this process to the ``n`` least busy CPUs it may use (idle
    share over 0.3 s), so that no framework can use more than ``n`` cores,
    whatever its own thread settings. Returns the CPUs, or None if the
    platform cannot pin."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    allowed = sorted(os.sched_getaffinity(0))
    try:
        a = _cpu_times()
        time.sleep(0.3)
        b = _cpu_times()
        idle = {c: (b[c][0] - a[c][0]) / max(b[c][1] - a[c][1], 1)
                for c in allowed if c in a and c in b}
    except (OSError, ValueError, KeyError):
        idle = {}
    chosen = sorted(allowed, key=lambda c: -idle.get(c, 0.0))[:n]
    os.sched_setaffinity(0, chosen)
    return sorted(chosen)


def run_worker(spec_json):
    spec = json.loads(spec_json)
    # before numpy, PyTensor, JAX or torch start their thread pools
    cpus = pin_cpus(spec["threads"]) if spec["pin"] else None
    if spec["kind"] == "ours":
        out = worker_ours(spec)
    elif spec["kind"] == "ported":
        out = worker_ported(spec)
    else:
        out = worker_torch(spec)
    out["cpus"] = cpus
    sys.stdout.write(RESULT_TAG + json.dumps(out) + "\n")
    sys.stdout.flush()


# -- the driver --------------------------------------------------------------
def base_spec(args):
    return dict(corpus=args.corpus, max_sequences=args.max_sequences,
                vocab_size=args.vocab_size, embedding=args.embedding,
                hidden=args.hidden, grad_clipping=args.grad_clipping,
                batch_size=args.batch_size, max_len=args.max_len,
                batches=args.batches, warmup=args.warmup, repeats=args.repeats,
                max_seconds=args.max_seconds, seed=args.seed,
                threads=args.threads, torch_clip_norm=args.torch_clip_norm,
                pin=not args.no_pin, device=args.device,
                compile_only=False, all_shapes=True)


def ours_spec(args, mode, bucketing, backend, micro_batch=1):
    name = ("masked-%s-%s" % (bucketing, backend) if mode == "masked"
            else "accum-mb%d-%s" % (micro_batch, backend))
    spec = base_spec(args)
    spec.update(name=name, kind="ours", family=name.rsplit("-", 1)[0],
                framework="lasagne-lstm", mode=mode,
                bucketing=bucketing, backend=backend, micro_batch=micro_batch)
    return spec


def ported_spec(args, backend):
    spec = base_spec(args)
    spec.update(name="ported-script-%s" % backend, kind="ported",
                family="ported-script", framework="lasagne-lstm", mode="masked",
                bucketing="pool", backend=backend, micro_batch=None)
    return spec


def torch_spec(args, kind):
    spec = base_spec(args)
    spec.update(name=kind, kind=kind, family=kind, framework="pytorch",
                mode="packed" if kind == "torch-packed" else "masked",
                bucketing="pool", micro_batch=None,
                backend="torch-cuda" if args.device == "gpu" else "torch-cpu")
    return spec


def launch(spec, args, log, cache_root=None, force_cache=False):
    """Run one configuration in a subprocess; returns its result record."""
    env = worker_env(args.threads, cache_root, force_cache, args.device)
    cmd = [sys.executable, str(pathlib.Path(__file__).resolve()),
           "--worker", json.dumps(spec)]
    log("  %-22s ..." % spec["name"])
    t0 = time.perf_counter()
    record = {k: spec[k] for k in ("name", "family", "framework", "mode",
                                   "bucketing", "backend", "micro_batch")}
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True,
                              timeout=args.timeout, cwd=str(ROOT))
    except subprocess.TimeoutExpired:
        record["error"] = "timed out after %.0f s" % args.timeout
        log("  %-22s timed out" % spec["name"])
        return record
    record["wall_s"] = time.perf_counter() - t0
    lines = [l for l in proc.stdout.splitlines() if l.startswith(RESULT_TAG)]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        record["error"] = "exit %d: %s" % (proc.returncode, " | ".join(tail))
        log("  %-22s FAILED: %s" % (spec["name"], record["error"]))
        return record
    record.update(json.loads(lines[-1][len(RESULT_TAG):]))
    if "tokens_per_s" in record:
        log("  %-22s %8.0f tokens/s (spread %.0f-%.0f), compile %.1f s, "
            "peak %.0f MB, %.0f s wall" % (
                spec["name"], record["tokens_per_s"], record["tokens_per_s_min"],
                record["tokens_per_s_max"], record["compile_s"],
                record["peak_rss_mb"], record["wall_s"]))
    else:
        log("  %-22s compile %.1f s (build %.1f s)" % (
            spec["name"], record["compile_s"], record["build_s"]))
    return record


def cold_warm(args, backends, log):
    """Cold (fresh empty caches) and warm (the caches the cold run filled)
    compile time of the masked training graph, per backend, first batch."""
    out = {}
    for backend in backends:
        spec = ours_spec(args, "masked", "pool", backend)
        spec.update(compile_only=True, all_shapes=False,
                    name="cold/warm-%s" % backend)
        tmp = tempfile.mkdtemp(prefix="lstm_bench_cold_")
        try:
            cold = launch(spec, args, log, cache_root=tmp, force_cache=True)
            warm = launch(spec, args, log, cache_root=tmp, force_cache=True)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        entry = {}
        for label, rec in (("cold", cold), ("warm", warm)):
            if "error" in rec:
                entry[label] = dict(error=rec["error"])
            else:
                entry[label] = {k: rec.get(k) for k in (
                    "compile_s", "build_s", "first_calls_s", "warm_calls_s",
                    "wall_s", "peak_rss_mb")}
        out[backend] = entry
    return out


def aggregate(records):
    """One record from a configuration's rounds: tokens/s is the median of
    the rounds' medians, the spread the min and max over every pass of every
    round; compile and build times are medians, memory the maximum."""
    good = [r for r in records if "tokens_per_s" in r]
    if not good:
        return records[-1] if records else None
    if len(records) == 1:
        return dict(records[0], rounds=[records[0]["tokens_per_s"]])
    out = dict(good[0])
    out["rounds"] = [r["tokens_per_s"] for r in good]
    out["failed_rounds"] = len(records) - len(good)
    out["tokens_per_s"] = statistics.median(out["rounds"])
    out["tokens_per_s_min"] = min(r["tokens_per_s_min"] for r in good)
    out["tokens_per_s_max"] = max(r["tokens_per_s_max"] for r in good)
    for key in ("compile_s", "build_s", "cpu_per_wall", "wall_s",
                "tokens_per_cpu_s"):
        out[key] = statistics.median(r[key] for r in good)
    for key in ("peak_rss_mb", "rss_delta_mb"):
        out[key] = max(r[key] for r in good)
    out["passes"] = [p for r in good for p in r["passes"]]
    return out


#: Left out of --quick's default set (still run when --configs names them).
QUICK_SKIP = ("ported-script-numba",)


def wanted(args, name):
    if args.configs is None:
        return not (args.quick and name in QUICK_SKIP)
    return name in args.configs


def main(argv=None):
    args = parse_args(argv)
    if args.worker is not None:
        return run_worker(args.worker)
    if args.render:
        with open(args.render) as f:
            report = json.load(f)
        show(report, args)
        return report
    if args.configs is not None:
        args.configs = set(c.strip() for c in args.configs.split(",") if c.strip())
    backends = available_backends()
    if args.backends:
        asked = [b.strip() for b in args.backends.split(",") if b.strip()]
        bad = [b for b in asked if b not in ALL_BACKENDS]
        if bad:
            sys.exit("unknown backend(s): %s (expected c, numba, jax)" % ", ".join(bad))
        backends = [b for b in asked if b in backends]
    has_torch = importlib.util.find_spec("torch") is not None

    def log(message):
        print(message, file=sys.stderr, flush=True)

    started = time.time()
    log("lstm_throughput: threads=%d, backends %s, torch %s, %d timed batches "
        "x %d repeats" % (args.threads, ",".join(backends) or "none",
                           "yes" if has_torch else "no", args.batches, args.repeats))
    load_start = os.getloadavg()
    git_start = git_state()
    runs = {}  # name -> the records of every round, in order
    order = []

    def run(spec):
        if wanted(args, spec["name"]):
            if spec["name"] not in runs:
                order.append(spec["name"])
            runs.setdefault(spec["name"], []).append(launch(spec, args, log))

    def rate(name, records=None):
        r = (records or {}).get(name) or aggregate(runs.get(name, []))
        return r.get("tokens_per_s") if r else None

    masked = [ours_spec(args, "masked", bucketing, backend)
              for backend in backends for bucketing in ("pool", "none")]
    others, fastest_masked = None, None
    for round_ in range(args.rounds):
        if args.rounds > 1:
            log("round %d of %d" % (round_ + 1, args.rounds))
        for spec in masked:
            run(spec)
        if others is None:
            # accumulation on the backend fastest in masked mode (round 1)
            masked_rates = {b: rate("masked-pool-%s" % b) for b in backends}
            masked_rates = {b: v for b, v in masked_rates.items() if v}
            fastest_masked = (max(masked_rates, key=masked_rates.get)
                              if masked_rates else None)
            accum_backends = (backends if args.full or fastest_masked is None
                              else [fastest_masked])
            others = [ours_spec(args, "accumulate", "pool", b, mb)
                      for b in accum_backends for mb in (1, 8)]
            others += [ported_spec(args, b) for b in PORTED_BACKENDS
                       if b in backends]
            if has_torch:
                others += [torch_spec(args, kind)
                           for kind in ("torch-packed", "torch-cell")]
        for spec in others:
            run(spec)
    results = [aggregate(runs[name]) for name in order]
    if args.rounds > 1:
        masked_rates = {b: rate("masked-pool-%s" % b,
                                {r["name"]: r for r in results}) for b in backends}
        masked_rates = {b: v for b, v in masked_rates.items() if v}
        fastest_masked = (max(masked_rates, key=masked_rates.get)
                          if masked_rates else None)

    cold = None
    if (args.cold or not (args.quick or args.skip_cold)) and backends:
        log("cold/warm compile of the masked training graph:")
        cold = cold_warm(args, backends, log)

    ok = [r for r in results if "tokens_per_s" in r]
    torch_rate = rate("torch-packed", {r["name"]: r for r in results})
    for r in ok:
        r["ratio_vs_torch_packed"] = (r["tokens_per_s"] / torch_rate
                                      if torch_rate else None)
    ours = [r for r in ok if r["framework"] == "lasagne-lstm"]
    best = max(ours, key=lambda r: r["tokens_per_s"]) if ours else None
    accum = [r for r in ours if r["mode"] == "accumulate"]
    best_accum = max(accum, key=lambda r: r["tokens_per_s"]) if accum else None
    report = dict(
        benchmark="lstm_throughput",
        date=time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        command="python benchmarks/lstm_throughput.py " + " ".join(
            sys.argv[1:] if argv is None else argv),
        machine=dict(cpu=cpu_model(), cpu_count=os.cpu_count(),
                     platform=platform.platform(),
                     python=platform.python_version(),
                     loadavg_start=load_start, loadavg_end=os.getloadavg()),
        threads=args.threads,
        pinned=not args.no_pin,
        device=args.device,
        gpu=next((r.get("jax_device") or r.get("torch_device") for r in ok
                  if r.get("jax_device") or r.get("torch_device")), None)
        if args.device == "gpu" else None,
        git=git_state(),  # at the end; the library may change during a run
        git_start=git_start,
        date_start=time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(started)),
        workload=dict(corpus=args.corpus, max_sequences=args.max_sequences,
                      vocab_size=args.vocab_size, embedding=args.embedding,
                      hidden=args.hidden, layers=1,
                      grad_clipping=args.grad_clipping,
                      torch_clip_norm=args.torch_clip_norm,
                      batch_size=args.batch_size, max_len=args.max_len,
                      timed_batches=args.batches, warmup=args.warmup,
                      repeats=args.repeats, rounds=args.rounds, optimizer="adam", learning_rate=1e-3,
                      floatX="float32"),
        backends=backends,
        configs=results,
        best=best["name"] if best else None,
        best_tokens_per_s=best["tokens_per_s"] if best else None,
        torch_packed_tokens_per_s=torch_rate,
        ratio_vs_torch_packed=(best["tokens_per_s"] / torch_rate
                               if best and torch_rate else None),
        fastest_masked_backend=fastest_masked,
        fastest_accumulate=best_accum["name"] if best_accum else None,
        compile_cold_warm=cold,
        notes=NOTES,
        total_s=time.time() - started,
    )
    add_cpu_ratios(report)
    if args.save:
        with open(args.save, "w") as f:
            json.dump(report, f, indent=1)
    show(report, args)
    return report


def add_cpu_ratios(report):
    """Ratios of tokens per CPU second to torch-packed's: on a machine whose
    cores are shared with other work, wall-clock tokens/s also measures how
    much CPU each process happened to get; tokens per CPU second does not."""
    for r in report["configs"]:  # reports saved by earlier versions
        if "tokens_per_s" in r and "tokens_per_cpu_s" not in r:
            r["tokens_per_cpu_s"] = r["tokens_per_s"] / max(r["cpu_per_wall"], 1e-9)
    ok = {r["name"]: r for r in report["configs"] if "tokens_per_s" in r}
    ref = ok.get("torch-packed")
    for r in ok.values():
        r["ratio_vs_torch_packed_per_cpu_s"] = (
            r["tokens_per_cpu_s"] / ref["tokens_per_cpu_s"] if ref else None)
    best = ok.get(report.get("best"))
    report["ratio_vs_torch_packed_per_cpu_s"] = (
        best["ratio_vs_torch_packed_per_cpu_s"] if best and ref else None)
    ours = [r for r in ok.values() if r["framework"] == "lasagne-lstm"]
    top = max(ours, key=lambda r: r["tokens_per_cpu_s"]) if ours else None
    report["best_per_cpu_s"] = top["name"] if top else None
    report["best_per_cpu_s_ratio_vs_torch_packed"] = (
        top["ratio_vs_torch_packed_per_cpu_s"] if top and ref else None)


def show(report, args):
    add_cpu_ratios(report)
    report.setdefault("pinned", False)
    report["workload"].setdefault("rounds", 1)
    if args.json:
        print(json.dumps(report, indent=None))
    elif args.markdown:
        print_markdown(report)
    else:
        print_table(report)


def print_markdown(report):
    w, m = report["workload"], report["machine"]
    start = report.get("git_start") or {}
    print("%s; %d CPUs; threads=%d%s; finished %s%s; git %s%s; load average %.2f "
          "at the start, %.2f at the end." % (
              m["cpu"], m["cpu_count"], report["threads"],
              " (each configuration's process pinned to that many CPUs)"
              if report.get("pinned") else "", report["date"],
              " (started %s)" % report["date_start"] if report.get("date_start") else "",
              report["git"]["commit"],
              " (started at %s)" % start["commit"]
              if start.get("commit") not in (None, report["git"]["commit"]) else "",
              m["loadavg_start"][0], m["loadavg_end"][0]))
    if report.get("device") == "gpu":
        print()
        print(gpu_summary(report))
    print()
    print("`%s` (%d timed batches x %d passes x %d round(s))" % (
        report["command"].strip(), w["timed_batches"], w["repeats"],
        w.get("rounds", 1)))
    print()
    print("| config | tokens/s | spread (min-max) | rounds | cpu/wall | tokens/CPU-s "
          "| padding | compile s | peak RSS MB | ΔRSS MB | vs torch-packed (tokens/s) "
          "| vs torch-packed (per CPU-s) |")
    print("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in report["configs"]:
        if "error" in r:
            print("| %s | failed: %s | | | | | | | | | | |" % (r["name"], r["error"][:80]))
            continue
        print("| %s | %.0f | %.0f-%.0f | %s | %.2f | %.0f | %.1f%% | %.1f | %.0f | %.0f "
              "| %s | %s |" % (
                  r["name"], r["tokens_per_s"], r["tokens_per_s_min"],
                  r["tokens_per_s_max"],
                  ", ".join("%.0f" % v for v in r.get("rounds", [])),
                  r["cpu_per_wall"], r["tokens_per_cpu_s"],
                  100 * r["padding_fraction"], r["compile_s"], r["peak_rss_mb"],
                  r["rss_delta_mb"], _fmt(r.get("ratio_vs_torch_packed"), "%.2f"),
                  _fmt(r.get("ratio_vs_torch_packed_per_cpu_s"), "%.2f")))
    print()
    print("Best lasagne-lstm configuration: `%s`, %s tokens/s; torch-packed %s "
          "tokens/s; **ratio_vs_torch_packed = %s**. Fastest masked backend: "
          "`%s`; fastest accumulation configuration: `%s`." % (
              report["best"], _fmt(report["best_tokens_per_s"], "%.0f"),
              _fmt(report["torch_packed_tokens_per_s"], "%.0f"),
              _fmt(report["ratio_vs_torch_packed"], "%.2f"),
              report["fastest_masked_backend"], report["fastest_accumulate"]))
    print("Per CPU second: best `%s`, %s x torch-packed." % (
        report["best_per_cpu_s"],
        _fmt(report["best_per_cpu_s_ratio_vs_torch_packed"], "%.2f")))
    if report.get("compile_cold_warm"):
        print()
        print("| backend | cold compile s | warm compile s | build s (cold/warm) |")
        print("|---|---:|---:|---:|")
        for backend, e in report["compile_cold_warm"].items():
            c, wm = e["cold"], e["warm"]
            if "error" in c or "error" in wm:
                print("| %s | failed | | |" % backend)
                continue
            print("| %s | %.1f | %.1f | %.1f / %.1f |" % (
                backend, c["compile_s"], wm["compile_s"], c["build_s"], wm["build_s"]))


def gpu_summary(report):
    return "GPU: %s; peak GPU memory (MB): %s" % (
        report.get("gpu"), ", ".join(
            "%s %s" % (r["name"], _fmt(r.get("peak_device_mb"), "%.0f"))
            for r in report["configs"] if "error" not in r))


def _fmt(value, pattern):
    return "-" if value is None else pattern % value


def print_table(report):
    w = report["workload"]
    m = report["machine"]
    print("LSTM LM training throughput (real tokens/s): %s, vocab %d, emb %d, "
          "LSTM %d, batch %d, max_len %d, float32" % (
              w["corpus"], w["vocab_size"], w["embedding"], w["hidden"],
              w["batch_size"], w["max_len"]))
    print("machine: %s, %d CPUs; threads=%d%s; load avg %.2f -> %.2f; %s" % (
        m["cpu"], m["cpu_count"], report["threads"],
        " (each process pinned to that many CPUs)" if report["pinned"] else "",
        m["loadavg_start"][0],
        m["loadavg_end"][0], report["date"]))
    if report.get("device") == "gpu":
        print(gpu_summary(report))
    print("timed: %d batches x %d passes after %d warm-up updates, %d round(s); "
          "git %s%s" % (
        w["timed_batches"], w["repeats"], w["warmup"], w["rounds"],
        report["git"]["commit"],
        " (library files modified)" if report["git"]["library_changes"] else ""))
    print("columns: tok/s = median (of rounds); spread = min-max over all passes; cpu = process CPU time / wall "
          "time while timed (below 1: the CPU was shared); tok/cpu-s = real "
          "tokens per CPU second; compile = first call - warm call; dRSS = peak RSS "
          "- RSS before the model was built; vs pt = tokens/s / torch-packed's")
    print()
    head = ("%-19s %8s %13s %5s %9s %6s %8s %7s %8s %8s %6s" % (
        "config", "tok/s", "spread", "cpu", "tok/cpu-s", "pad%", "compile", "build",
        "peak MB", "dRSS MB", "vs pt"))
    print(head)
    print("-" * len(head))
    for r in report["configs"]:
        if "error" in r:
            print("%-19s FAILED: %s" % (r["name"], r["error"][:100]))
            continue
        print("%-19s %8.0f %13s %5.2f %9.0f %6.1f %7.1fs %6.1fs %8.0f %8.0f %6s" % (
            r["name"], r["tokens_per_s"],
            "%.0f-%.0f" % (r["tokens_per_s_min"], r["tokens_per_s_max"]),
            r["cpu_per_wall"], r["tokens_per_cpu_s"], 100 * r["padding_fraction"], r["compile_s"], r["build_s"],
            r["peak_rss_mb"], r["rss_delta_mb"],
            _fmt(r.get("ratio_vs_torch_packed"), "%.2f")))
    print()
    print("best lasagne-lstm configuration: %s (%s tokens/s); torch-packed %s "
          "tokens/s; ratio_vs_torch_packed = %s" % (
              report["best"], _fmt(report["best_tokens_per_s"], "%.0f"),
              _fmt(report["torch_packed_tokens_per_s"], "%.0f"),
              _fmt(report["ratio_vs_torch_packed"], "%.2f")))
    print("per CPU second: best %s, %s x torch-packed" % (
        report["best_per_cpu_s"],
        _fmt(report["best_per_cpu_s_ratio_vs_torch_packed"], "%.2f")))
    print("fastest masked backend: %s; fastest accumulation config: %s" % (
        report["fastest_masked_backend"], report["fastest_accumulate"]))
    if report["compile_cold_warm"]:
        print()
        print("compile time of the masked training graph, first batch "
              "(first call - warm call; build = graph + update rule):")
        for backend, entry in report["compile_cold_warm"].items():
            parts = []
            for label in ("cold", "warm"):
                e = entry[label]
                parts.append("%s %s" % (label, "FAILED" if "error" in e else
                                        "%.1f s (build %.1f s)" % (e["compile_s"],
                                                                   e["build_s"])))
            print("  %-6s %s" % (backend, "; ".join(parts)))
    print()
    for note in report["notes"]:
        print("note: " + note)
    print("total %.0f s" % report["total_s"])


if __name__ == "__main__":
    main()
