"""Masking vs gradient accumulation: do the two training modes give the same
updates, do they converge alike, and what does each cost?

The same word-level LSTM language model (same seed, same initial weights, same
data, same batches of sentences) is trained under several training modes;
only the mode fields of the run's configuration dict change:

``masked-pool``      masked minibatches, length-bucketed batches (``pool``)
``masked-none``      masked minibatches, random batches (no bucketing: more
                     padding; the one configuration whose batches differ)
``accum-mb1``        gradient accumulation over the same bucketed batches,
                     one unpadded sequence at a time: no mask anywhere
``accum-mb8``        accumulation over micro-batches of 8 rows (each padded
                     to its own longest row, masked)
``accum-mb8-seq``    as accum-mb8 with *sequence* weighting (mean of
                     per-sentence mean losses) instead of token weighting
``masked-pool-seq``  masked-pool with sequence weighting (not run by default)

Step 1 (verification, float64): from the same initial parameters, one masked
update and one accumulation cycle (micro-batch 1 and 8) on the same batch are
applied with the library's ``StepFunctions``; the script reports the largest
absolute parameter difference and that difference relative to the size of the
update, for SGD and Adam, token and sequence weighting, with the LSTM's
per-step ``grad_clipping`` at the run's value and at a tiny value that clips
nearly every step (it also reports how much clipping changed the masked
update, to show it was active).

Step 2 (training): each configuration runs in its own subprocess (so peak
memory and compile caches are its own) for the same number of epochs, with
the validation perplexity measured ``--evals-per-epoch`` times per epoch.
Recorded per epoch: train and valid perplexity, tokens seen, training
seconds, tokens/s, compile time and peak memory.

Outputs in ``--out``: ``epochs.csv`` (one row per configuration and epoch),
``curve.csv`` (every validation point), ``verification.csv``,
``valid_ppl_vs_tokens.png``, ``valid_ppl_vs_seconds.png``, ``summary.md``
and ``results.json``.

Timings depend on the machine and on its load; run on a quiet machine to
compare them.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import OrderedDict

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common  # noqa: E402

CONFIGS = OrderedDict([
    ("masked-pool", dict(mode="masked", bucketing="pool")),
    ("masked-none", dict(mode="masked", bucketing="none")),
    ("accum-mb1", dict(mode="accumulate", micro_batch=1, bucketing="pool")),
    ("accum-mb8", dict(mode="accumulate", micro_batch=8, bucketing="pool")),
    ("accum-mb8-seq", dict(mode="accumulate", micro_batch=8, bucketing="pool",
                           weighting="sequences")),
    ("masked-pool-seq", dict(mode="masked", bucketing="pool", weighting="sequences")),
])
DEFAULT_CONFIGS = ["masked-pool", "masked-none", "accum-mb1", "accum-mb8", "accum-mb8-seq"]

FULL = dict(max_sequences=4000, vocab_size=5000, embedding=64, hidden=128, epochs=2,
            evals_per_epoch=4, max_len=60)
QUICK = dict(max_sequences=300, vocab_size=1000, embedding=32, hidden=32, epochs=1,
             evals_per_epoch=1, max_len=16)


def parse_args(argv=None):
    from lasagne_lstm import backends
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0].replace("\n", " "),
        epilog="Configurations: " + "; ".join(
            "%s = %s" % (k, ", ".join("%s=%s" % kv for kv in v.items()))
            for k, v in CONFIGS.items())
        + ". Full-size defaults: " + ", ".join("%s=%s" % kv for kv in FULL.items())
        + "; --quick: " + ", ".join("%s=%s" % kv for kv in QUICK.items())
        + ". Example: python experiments/masking_vs_accumulation.py --out "
          "experiments/results/masking_vs_accumulation",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, metavar="RESULTS_DIR",
                   help="folder for the CSV files, plots and summary (created)")
    p.add_argument("--quick", action="store_true",
                   help="smoke-sized run (tiny model, 600 sentences, 1 epoch; < 3 min)")
    p.add_argument("--corpus", default="brown",
                   help="corpus name or text path, as lasagne-lstm train takes (default brown)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the data split, batches and initial weights (default 0)")
    p.add_argument("--epochs", type=int, help="training epochs per configuration "
                   "(default %d, quick %d)" % (FULL["epochs"], QUICK["epochs"]))
    p.add_argument("--backend", default=backends.DEFAULT_BACKEND, choices=backends.BACKENDS,
                   help="PyTensor backend (default: the library's, %s)"
                   % backends.DEFAULT_BACKEND)
    p.add_argument("--max-sequences", type=int,
                   help="sentences taken from the corpus before the 90/5/5 split "
                   "(default %d, quick %d)" % (FULL["max_sequences"], QUICK["max_sequences"]))
    p.add_argument("--vocab-size", type=int, help="vocabulary size (default %d, quick %d)"
                   % (FULL["vocab_size"], QUICK["vocab_size"]))
    p.add_argument("--embedding", type=int, help="embedding size (default %d, quick %d)"
                   % (FULL["embedding"], QUICK["embedding"]))
    p.add_argument("--hidden", type=int, help="LSTM units (default %d, quick %d)"
                   % (FULL["hidden"], QUICK["hidden"]))
    p.add_argument("--batch-size", type=int, default=32,
                   help="sentences per update, in every mode (default 32)")
    p.add_argument("--max-len", type=int,
                   help="longer sentences are truncated (default 60, quick 16: fewer "
                   "shapes to compile on JAX)")
    p.add_argument("--optimizer", default="adam", help="update rule (default adam)")
    p.add_argument("--learning-rate", type=float, default=2e-3,
                   help="learning rate (default 2e-3)")
    p.add_argument("--grad-clipping", type=float, default=5.0,
                   help="LSTM per-step gradient clipping (default 5, as in Lasagne)")
    p.add_argument("--evals-per-epoch", type=int,
                   help="validation points per epoch for the curves (default %d, quick %d)"
                   % (FULL["evals_per_epoch"], QUICK["evals_per_epoch"]))
    p.add_argument("--configs", default=",".join(DEFAULT_CONFIGS),
                   help="comma-separated configurations to train (default %%(default)s; "
                   "known: %s)" % ", ".join(CONFIGS))
    p.add_argument("--skip-verify", action="store_true",
                   help="skip the float64 one-update verification")
    p.add_argument("--reuse-verification", action="store_true",
                   help="take step 1's results from RESULTS_DIR/verification.json of an "
                   "earlier run instead of computing them again")
    p.add_argument("--shared-compile-cache", action="store_true",
                   help="let the configurations share the persistent JAX compilation "
                   "cache (by default each starts with an empty one, except with --quick; "
                   "PyTensor's own C cache, used by the c backend, is always shared)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--worker-result", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    common.finish_sizes_and_configs(p, args, QUICK, FULL, CONFIGS)
    return args


def base_config(args):
    """The configuration dict every configuration shares."""
    return dict(corpus=args.corpus, task="lm", level="word", lowercase=True,
                max_sequences=args.max_sequences, vocab_size=args.vocab_size,
                max_len=args.max_len, batch_size=args.batch_size, seed=args.seed,
                embedding=args.embedding, hidden=args.hidden, layers=1,
                grad_clipping=args.grad_clipping, optimizer=args.optimizer,
                learning_rate=args.learning_rate, epochs=args.epochs,
                backend=args.backend, float_type="float32", bucketing="pool",
                mode="masked", micro_batch=1, weighting="tokens", accumulate=None)


# -- step 1: verification ------------------------------------------------------
def verify(args):
    """One masked update vs one accumulation cycle on one batch (float64)."""
    import numpy as np
    from lasagne_lstm.training.engine import Run
    from lasagne_lstm.training.models import build_model
    from lasagne_lstm.training import StepFunctions

    config = dict(base_config(args), float_type="float64", bucketing="none")
    run = Run(config, progress=False)  # data, vocabulary and the seeded model
    batch = run.train_batches.epoch(0)[0]  # random lengths: padding matters
    initial = {n: p.get_value().copy() for n, p in run.model.params.items()}
    optimizers = [("sgd", 1.0), (args.optimizer, args.learning_rate)]
    weightings = ["tokens", "sequences"]
    clips = [args.grad_clipping, 1e-6]
    if args.quick:
        optimizers, weightings, clips = optimizers[:1], weightings[:1], clips[1:]
    models = {}
    rows = []

    def model_for(clip):
        if clip not in models:
            m = build_model(dict(run.model_config(), grad_clipping=clip))
            models[clip] = m
        m = models[clip]
        for name, p in m.params.items():
            p.set_value(initial[name].copy())
        return m

    def values(model):
        return {n: p.get_value().copy() for n, p in model.params.items()}

    def compare(a, b):
        abs_diff = max(float(np.max(np.abs(a[n] - b[n]))) for n in a)
        update = max(float(np.max(np.abs(b[n] - initial[n]))) for n in b)
        return abs_diff, abs_diff / max(update, 1e-300), update

    total = len(clips) * len(optimizers) * len(weightings)
    from tqdm import tqdm
    bar = tqdm(total=total, desc="verify", file=sys.stderr, disable=args.no_progress)
    unclipped = {}
    for clip in clips:
        for opt, lr in optimizers:
            for weighting in weightings:
                key = (opt, weighting)
                if key not in unclipped:
                    model = model_for(0.0)
                    StepFunctions(model, mode="masked", optimizer=opt, learning_rate=lr,
                                  backend=args.backend, weighting=weighting
                                  ).train(batch.X, batch.mask, batch.y)
                    unclipped[key] = values(model)
                model = model_for(clip)
                StepFunctions(model, mode="masked", optimizer=opt, learning_rate=lr,
                              backend=args.backend, weighting=weighting
                              ).train(batch.X, batch.mask, batch.y)
                masked = values(model)
                clip_effect = compare(unclipped[key], masked)[0]
                for mb in (1, 8):
                    model = model_for(clip)
                    StepFunctions(model, mode="accumulate", optimizer=opt,
                                  learning_rate=lr, backend=args.backend,
                                  weighting=weighting).accumulate_batch(batch, mb)
                    abs_diff, rel_diff, update = compare(values(model), masked)
                    rows.append(dict(grad_clipping=clip, optimizer=opt, learning_rate=lr,
                                     weighting=weighting, micro_batch=mb,
                                     max_abs_diff=abs_diff, max_rel_diff=rel_diff,
                                     max_abs_update=update,
                                     clipping_changed_update_by=clip_effect))
                bar.update(1)
    bar.close()
    return dict(rows=rows, batch=dict(rows=len(batch), width=int(batch.width),
                                      tokens=int(batch.n_tokens),
                                      min_len=int(min(batch.lengths)),
                                      max_len=int(max(batch.lengths)),
                                      padding_fraction=batch.padded_cells / batch.cells),
                peak_rss_mb=common.peak_rss_mb())


# -- step 2: one configuration (in its own process) ------------------------------
def train_config(args, name):
    import numpy as np
    from lasagne_lstm.training.engine import Run

    config = dict(base_config(args), **CONFIGS[name])
    log = common.LogCollector()
    t0 = time.perf_counter()
    run = Run(config, log=log, progress=not args.no_progress)
    setup_s = time.perf_counter() - t0
    rss_setup = common.peak_rss_mb()
    stats = run.train_batches.stats(0)

    t0 = time.perf_counter()
    first_valid = run.evaluate("valid")
    first_eval_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    run.evaluate("valid")
    eval_s = time.perf_counter() - t0

    curve = [dict(config=name, epoch=0, step=0, tokens_seen=0, train_seconds=0.0,
                  valid_perplexity=first_valid["perplexity"])]
    updates, times = [], []  # update records and each update's seconds
    for epoch in range(args.epochs):
        n_batches = run.train_batches.num_batches(epoch)
        steps_before = run.step
        cuts = sorted({max(1, round(n_batches * k / args.evals_per_epoch))
                       for k in range(1, args.evals_per_epoch + 1)})
        for cut in cuts:
            run.config["max_steps"] = steps_before + cut
            first = len(log.records)
            run.fit()
            # wall_time counts from the start of this fit() call
            previous = 0.0
            for record in log.records[first:]:
                if record.get("event") == "update":
                    updates.append(record)
                    times.append(record["wall_time"] - previous)
                    previous = record["wall_time"]
            seen = sum(u["tokens"] for u in updates)
            if cut == n_batches:
                valid_ppl = log.epochs()[-1]["valid_perplexity"]
            else:
                valid_ppl = run.evaluate("valid")["perplexity"]
            curve.append(dict(config=name, epoch=epoch + cut / n_batches, step=run.step,
                              tokens_seen=seen, train_seconds=sum(times),
                              valid_perplexity=valid_ppl))

    # compile_seconds: the library's own measure (building, compiling and the
    # first call of each function; on JAX one function per batch shape)
    compile_s = updates[0]["compile_seconds"]
    compile_total_s = sum(u["compile_seconds"] for u in updates)
    epochs = []
    seen = seconds = 0.0
    for record in log.epochs():
        e = record["epoch"]
        ups = [(u, t) for u, t in zip(updates, times) if u["epoch"] == e]
        loss = sum(u["loss"] * u["tokens"] for u, _ in ups)
        tokens = sum(u["tokens"] for u, _ in ups)
        seen += tokens
        seconds += sum(t for _, t in ups)
        epochs.append(dict(
            config=name, epoch=e, updates=len(ups),
            train_perplexity=float(np.exp(min(loss / max(tokens, 1), 700))),
            valid_perplexity=record["valid_perplexity"], tokens_seen=int(seen),
            train_seconds=seconds,
            tokens_per_s=record["tokens_per_s"],
            tokens_per_s_with_compile=tokens / max(sum(t for _, t in ups), 1e-9),
            padding_fraction=record["padding_fraction"],
            compile_s=sum(u["compile_seconds"] for u, _ in ups)))
    peak = common.peak_rss_mb()
    for e in epochs:
        e["peak_rss_mb"] = peak
    return dict(name=name, config={k: v for k, v in run.config.items() if k != "max_steps"},
                epochs=epochs, curve=curve, setup_s=setup_s, rss_after_setup_mb=rss_setup,
                peak_rss_mb=peak, compile_s=compile_s, compile_total_s=compile_total_s,
                compile_all_functions_s=run.steps.compile_seconds,
                compiled_functions=run.steps.compiled_functions, first_update_s=times[0],
                typical_update_s=statistics.median(times), eval_s=eval_s,
                eval_compile_s=first_eval_s - eval_s,
                batches_per_epoch=stats["batches"], padding_fraction=stats["padding_fraction"],
                train_sentences=stats["sequences"], train_tokens_per_epoch=stats["tokens"],
                vocab=len(run.vocab))


def worker(args):
    result = verify(args) if args.worker == "verify" else train_config(args, args.worker)
    with open(args.worker_result, "w") as f:
        json.dump(result, f)


def run_worker(args, name, argv):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "result.json")
        cmd = [sys.executable, os.path.abspath(__file__)] + argv + [
            "--worker", name, "--worker-result", path]
        env = dict(os.environ)
        if not (args.shared_compile_cache or args.quick):
            # a cold JAX compilation cache per configuration, so that compile
            # times do not depend on which configuration ran before
            env["LASAGNE_LSTM_CACHE"] = os.path.join(tmp, "compiled")
        proc = subprocess.run(cmd, env=env)
        if proc.returncode != 0:
            raise SystemExit("configuration %s failed (exit status %d)"
                             % (name, proc.returncode))
        with open(path) as f:
            return json.load(f)


# -- report ---------------------------------------------------------------------
def plot(results, out):
    plt = common.pyplot()
    for xkey, fname, xlabel in (
            ("tokens_seen", "valid_ppl_vs_tokens.png", "training tokens seen"),
            ("train_seconds", "valid_ppl_vs_seconds.png",
             "training seconds (sum of update times, compile included; shared 2-core CPU)")):
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for r in results:
            xs = [p[xkey] for p in r["curve"]]
            ys = [p["valid_perplexity"] for p in r["curve"]]
            ax.plot(xs, ys, marker="o", markersize=3, label=r["name"])
        ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("validation perplexity")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(os.path.join(out, fname), dpi=90)
        plt.close(fig)


def summary(args, verification, results, wall, machine):
    lines = ["# Masking vs gradient accumulation", "",
             "Command: `python experiments/masking_vs_accumulation.py %s`" % " ".join(
                 sys.argv[1:]), "",
             "Machine: %s. Timings are from a shared machine: compare them with each other, "
             "not with other machines." % machine, ""]
    if results:
        r0 = results[0]
        c = r0["config"]
        lines += ["Model and data: %s, %d sentences taken (90/5/5 split; %d training "
                  "sentences, %d training tokens per epoch), vocabulary %d, embedding %d, "
                  "1 LSTM layer of %d units (grad_clipping %s), batch %d sentences, max "
                  "length %d, %s lr %g, %d epochs, backend %s, float32, seed %d."
                  % (c["corpus"], c["max_sequences"], r0["train_sentences"],
                     r0["train_tokens_per_epoch"], r0["vocab"], c["embedding"], c["hidden"],
                     c["grad_clipping"], c["batch_size"], c["max_len"], c["optimizer"],
                     c["learning_rate"], c["epochs"], c["backend"], c["seed"]), ""]
        from lasagne_lstm import backends
        if backends.needs_static_shapes(c["backend"]):
            lines += ["On %s (static shapes) the library pads single sequences to a multiple "
                      "of 8 and masks them, so accum-mb1 is not mask-free here; it is on "
                      "the dynamic-shape backends (c, numba)." % c["backend"], ""]
    if verification:
        b = verification["batch"]
        lines += ["## 1. One update, both modes (float64)", "",
                  "Batch: %d sentences of %d–%d tokens (%d tokens, padded width %d, %.0f%% "
                  "padding), same initial parameters. `max_abs_diff` is the largest "
                  "difference between the parameters after a masked update and after an "
                  "accumulation cycle; `max_rel_diff` divides it by the largest parameter "
                  "change of the masked update; `clipping_changed_update_by` is how far the "
                  "masked update moved when per-step clipping was switched on (non-zero: "
                  "clipping was active)."
                  % (b["rows"], b["min_len"], b["max_len"], b["tokens"], b["width"],
                     100 * b["padding_fraction"]), ""]
        lines.append(common.markdown_table(
            ["grad_clipping", "optimizer", "weighting", "micro-batch", "max_abs_diff",
             "max_rel_diff", "max_abs_update", "clipping_changed_update_by"],
            [[r["grad_clipping"], r["optimizer"], r["weighting"], r["micro_batch"],
              r["max_abs_diff"], r["max_rel_diff"], r["max_abs_update"],
              r["clipping_changed_update_by"]] for r in verification["rows"]]))
        lines.append("")
    if results:
        lines += ["## 2. Training", "",
                  "Per configuration (each in its own process). tokens/s: real tokens per "
                  "second of the updates that compiled nothing (the engine's figure, mean over "
                  "epochs); with compile: all training tokens over all update seconds; "
                  "compile s: the first update's compiling (the library's measure: building, "
                  "compiling and first call of each function); compile all s: every "
                  "update's compiling (on JAX one function per new batch shape); functions: "
                  "compiled functions (training and evaluation); each configuration starts "
                  "with %s JAX compilation cache; peak RSS: the process's `ru_maxrss` (Python, PyTensor and "
                  "data included; %.0f MiB right after set-up for the first configuration)."
                  % ("a shared" if args.shared_compile_cache or args.quick else "an empty",
                     results[0]["rss_after_setup_mb"]), ""]
        rows = []
        for r in results:
            last = r["epochs"][-1]
            rows.append([r["name"], last["train_perplexity"], last["valid_perplexity"],
                         "%.1f" % min(p["valid_perplexity"] for p in r["curve"]),
                         last["tokens_seen"], "%.0f" % last["train_seconds"],
                         "%.0f" % statistics.mean(e["tokens_per_s"] or 0 for e in r["epochs"]),
                         "%.0f" % (last["tokens_seen"] / max(last["train_seconds"], 1e-9)),
                         "%.1f" % r["compile_s"], "%.1f" % r["compile_total_s"],
                         r["compiled_functions"], "%.0f" % r["peak_rss_mb"],
                         "%.1f%%" % (100 * r["padding_fraction"])])
        lines.append(common.markdown_table(
            ["config", "train ppl (last epoch)", "valid ppl (end)", "best valid ppl",
             "tokens seen", "train s", "tokens/s", "tokens/s with compile", "compile s",
             "compile all s", "functions", "peak RSS MiB", "padding"],
            rows))
        lines += ["", "Per epoch:", ""]
        lines.append(common.markdown_table(
            ["config", "epoch", "train ppl", "valid ppl", "tokens seen", "train s",
             "tokens/s"],
            [[e["config"], e["epoch"], e["train_perplexity"], e["valid_perplexity"],
              e["tokens_seen"], "%.0f" % e["train_seconds"], "%.0f" % (e["tokens_per_s"] or 0)]
             for r in results for e in r["epochs"]]))
        lines += ["", "![valid perplexity vs tokens](valid_ppl_vs_tokens.png)", "",
                  "![valid perplexity vs seconds](valid_ppl_vs_seconds.png)", ""]
    lines.append("Total wall-clock of this script: %.0f s." % wall)
    return "\n".join(lines) + "\n"


def main(argv=None):
    raw = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(raw)
    if args.worker:
        return worker(args)
    from tqdm import tqdm
    start = time.perf_counter()
    machine = common.machine_line()
    os.makedirs(args.out, exist_ok=True)
    verification = None
    saved = os.path.join(args.out, "verification.json")
    if args.reuse_verification and os.path.exists(saved):
        with open(saved) as f:
            verification = json.load(f)
    elif not args.skip_verify:
        print("step 1: one masked update vs one accumulation cycle (float64)",
              file=sys.stderr)
        verification = run_worker(args, "verify", raw)
        with open(saved, "w") as f:
            json.dump(verification, f, indent=1)
        common.write_csv(os.path.join(args.out, "verification.csv"), verification["rows"])
        for row in verification["rows"]:
            print("  clip %-6g %-5s %-9s mb %d: max abs diff %.2e, relative %.2e" % (
                row["grad_clipping"], row["optimizer"], row["weighting"],
                row["micro_batch"], row["max_abs_diff"], row["max_rel_diff"]),
                file=sys.stderr)
    results = []
    bar = tqdm(args.config_names, desc="configurations", file=sys.stderr,
               disable=args.no_progress)
    for name in bar:
        bar.set_postfix(config=name)
        print("\nstep 2: training %s" % name, file=sys.stderr)
        results.append(run_worker(args, name, raw))
        # write what we have after every configuration
        common.write_csv(os.path.join(args.out, "epochs.csv"),
                         [e for r in results for e in r["epochs"]])
        common.write_csv(os.path.join(args.out, "curve.csv"),
                         [p for r in results for p in r["curve"]])
    if results:
        plot(results, args.out)
    text = summary(args, verification, results, time.perf_counter() - start, machine)
    with open(os.path.join(args.out, "summary.md"), "w") as f:
        f.write(text)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(dict(verification=verification, results=results), f, indent=1)
    print(text)


if __name__ == "__main__":
    main()
