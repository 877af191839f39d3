"""Time one training step of a masked LSTMLayer, with and without
``precompute_input``.

A step is forward + backward + SGD update of an ``LSTMLayer`` with per-step
gradient clipping, in float32, on a right-padded batch with a mask. For each
setting the script reports the compile time (building the function plus its
first call, which is when Numba compiles) and the mean and minimum time of
the following calls.

Example::

    python benchmarks/lstm_step.py --batch 32 --units 256 --steps 40 \\
        --inputs 128 --repeats 20 --mode NUMBA --json

PyTensor's compile cache goes to ``.pytensor_cache/bench`` in the repository
(set through ``PYTENSOR_FLAGS`` before PyTensor is imported; flags already in
the environment come after it and win).
"""
import argparse
import json
import os
import pathlib
import platform
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
               "NUMBA_NUM_THREADS")


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description="Time one LSTM training step (forward, backward, SGD "
                    "update; masked, per-step gradient clipping, float32) "
                    "with precompute_input on and off.")
    p.add_argument("--batch", type=int, default=32, help="batch size (32)")
    p.add_argument("--units", type=int, default=256,
                   help="LSTM units (256)")
    p.add_argument("--steps", type=int, default=40,
                   help="sequence length (40)")
    p.add_argument("--inputs", type=int, default=128,
                   help="input features per step (128)")
    p.add_argument("--repeats", type=int, default=10,
                   help="timed calls per setting, after the first (10)")
    p.add_argument("--mode", default="NUMBA",
                   help="PyTensor compile mode: NUMBA (default), CVM (C "
                        "backend), FAST_RUN, FAST_COMPILE, JAX, ...")
    p.add_argument("--clip", type=float, default=5.0,
                   help="grad_clipping of the layer (5.0)")
    p.add_argument("--threads", type=int, default=None,
                   help="set OMP/OpenBLAS/MKL/Numba thread counts (default: "
                        "leave the environment alone)")
    p.add_argument("--precompute", choices=("both", "on", "off"),
                   default="both", help="which settings to time (both)")
    p.add_argument("--seed", type=int, default=0, help="random seed (0)")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object instead of text")
    return p.parse_args(argv)


def configure_environment(args):
    """Set thread counts and PyTensor flags; must run before importing
    PyTensor."""
    if args.threads is not None:
        for var in THREAD_VARS:
            os.environ[var] = str(args.threads)
    flags = "compiledir=%s,floatX=float32" % (ROOT / ".pytensor_cache"
                                               / "bench")
    existing = os.environ.get("PYTENSOR_FLAGS")
    os.environ["PYTENSOR_FLAGS"] = flags + ("," + existing if existing
                                            else "")


def build_step(args, precompute):
    import numpy as np
    import pytensor
    import pytensor.tensor as pt

    sys.path.insert(0, str(ROOT))
    from lasagne_lstm import layers, updates

    np.random.seed(args.seed)  # the package RNG: same initial weights
    # Static-shape variables: the step has one shape, and JAX needs it known
    # (an InputLayer's own variable, as in Lasagne, fixes only size-1 axes).
    l_in = layers.InputLayer((args.batch, args.steps, args.inputs), input_var=pt.tensor(
        "x", dtype="float32", shape=(args.batch, args.steps, args.inputs)))
    l_mask = layers.InputLayer((args.batch, args.steps), input_var=pt.tensor(
        "mask", dtype="float32", shape=(args.batch, args.steps)))
    lstm = layers.LSTMLayer(l_in, args.units, mask_input=l_mask,
                            grad_clipping=args.clip,
                            precompute_input=precompute)
    target = pt.tensor("target", dtype="float32",
                       shape=(args.batch, args.steps, args.units))
    out = layers.get_output(lstm)
    mask = l_mask.input_var
    err = (out - target) ** 2 * mask.dimshuffle(0, 1, "x")
    loss = err.sum() / (mask.sum() * args.units)
    params = layers.get_all_params(lstm, trainable=True)
    upd = updates.sgd(loss, params, learning_rate=np.float32(0.1))
    t0 = time.perf_counter()
    fn = pytensor.function([l_in.input_var, mask, target], loss,
                           updates=upd, mode=args.mode)
    build_s = time.perf_counter() - t0
    return fn, build_s


def make_batch(args):
    import numpy as np
    rng = np.random.RandomState(args.seed)
    x = rng.normal(size=(args.batch, args.steps, args.inputs))
    lengths = rng.randint(max(1, args.steps // 2), args.steps + 1,
                          size=args.batch)
    lengths[0] = args.steps
    mask = (np.arange(args.steps)[None, :] < lengths[:, None])
    y = rng.uniform(-0.5, 0.5, size=(args.batch, args.steps, args.units))
    return (x.astype("float32"), mask.astype("float32"), y.astype("float32"),
            int(lengths.sum()))


def time_setting(args, precompute, batch):
    import numpy as np
    fn, build_s = build_step(args, precompute)
    x, mask, y, tokens = batch
    t0 = time.perf_counter()
    first_loss = float(fn(x, mask, y))
    first_s = time.perf_counter() - t0
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        # float() waits for the result: JAX returns before computing
        loss = float(fn(x, mask, y))
        times.append(time.perf_counter() - t0)
    times = np.asarray(times)
    return dict(
        precompute_input=precompute,
        build_s=round(build_s, 3),
        first_call_s=round(first_s, 3),
        compile_s=round(build_s + first_s, 3),
        mean_step_s=float(times.mean()) if len(times) else None,
        min_step_s=float(times.min()) if len(times) else None,
        std_step_s=float(times.std()) if len(times) else None,
        real_tokens=tokens,
        tokens_per_s=(tokens / float(times.mean())) if len(times) else None,
        first_loss=first_loss,
        last_loss=float(loss) if len(times) else first_loss,
    )


def main(argv=None):
    args = parse_args(argv)
    configure_environment(args)
    import pytensor

    batch = make_batch(args)
    settings = {"both": (True, False), "on": (True,), "off": (False,)}
    results = [time_setting(args, pre, batch)
               for pre in settings[args.precompute]]
    try:
        import numba
        numba_threads = numba.config.NUMBA_NUM_THREADS
    except Exception:  # numba missing or broken
        numba_threads = None
    report = dict(
        benchmark="lstm_step",
        batch=args.batch, units=args.units, steps=args.steps,
        inputs=args.inputs, repeats=args.repeats, mode=args.mode,
        grad_clipping=args.clip, floatX=pytensor.config.floatX,
        pytensor=pytensor.__version__, python=platform.python_version(),
        cpu_count=os.cpu_count(), numba_threads=numba_threads,
        thread_env={v: os.environ.get(v) for v in THREAD_VARS},
        compiledir=str(pytensor.config.compiledir),
        results=results,
    )
    if len(results) == 2 and results[0]["mean_step_s"] \
            and results[1]["mean_step_s"]:
        report["speedup_precompute"] = (results[1]["mean_step_s"]
                                        / results[0]["mean_step_s"])
    if args.json:
        print(json.dumps(report))
        return report
    print("LSTM training step: batch %d, units %d, steps %d, inputs %d, "
          "mode %s, float32, grad_clipping %g"
          % (args.batch, args.units, args.steps, args.inputs, args.mode,
             args.clip))
    print("threads: numba %s, env %s" % (numba_threads, report["thread_env"]))
    for r in results:
        print("precompute_input=%-5s compile %.2f s (build %.2f + first call "
              "%.2f); step mean %.2f ms, min %.2f ms over %d calls; "
              "%.0f real tokens/s"
              % (r["precompute_input"], r["compile_s"], r["build_s"],
                 r["first_call_s"], 1e3 * (r["mean_step_s"] or 0),
                 1e3 * (r["min_step_s"] or 0), args.repeats,
                 r["tokens_per_s"] or 0))
    if "speedup_precompute" in report:
        print("precompute_input speed-up: %.2fx"
              % report["speedup_precompute"])
    return report


if __name__ == "__main__":
    main()
