"""Sentence polarity (Pang & Lee) with a masked LSTM classifier: accuracy on a
held-out test split, mean and spread over seeds, masked training vs gradient
accumulation.

The model is the library's ``SequenceClassifier``: embedding → LSTM with a
(batch, time) mask and ``only_return_final`` (the last real step's hidden
state of each sentence) → softmax over the two labels. The corpus is the
polarity data set as Debian's python3-pattern ships it (a subset of Pang &
Lee's 10,662 sentences), lower-cased, shuffled with the seed and split
90/5/5 into train/valid/test.

For every seed (``--seed``, ``--seed + 1``, ...), each configuration gets the
same configuration dict except the mode fields, hence the same split,
vocabulary, initial weights and batches:

``masked``      masked minibatches of length-bucketed sentences (``pool``)
``accum-mb1``   gradient accumulation over the same batches, one unpadded
                sentence at a time, one update per batch
``accum-mb8``   accumulation over micro-batches of 8 sentences (not run by
                default)

After every epoch the validation and test accuracy are measured. The summary
reports the test accuracy after the last epoch and at the epoch with the best
validation accuracy, each as mean ± standard deviation over the seeds (the
seed changes the split as well as the initial weights and batch order).

Outputs in ``--out``: ``runs.csv`` (one row per seed, configuration and
epoch), ``accuracy_by_epoch.png``, ``test_accuracy.png``, ``summary.md`` and
``results.json``.
"""
import argparse
import json
import os
import statistics
import sys
import time
from collections import OrderedDict

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common  # noqa: E402

CONFIGS = OrderedDict([
    ("masked", dict(mode="masked", bucketing="pool")),
    ("accum-mb1", dict(mode="accumulate", micro_batch=1, bucketing="pool")),
    ("accum-mb8", dict(mode="accumulate", micro_batch=8, bucketing="pool")),
])
DEFAULT_CONFIGS = ["masked", "accum-mb1"]
FULL = dict(max_sequences=None, vocab_size=6000, embedding=64, hidden=64, epochs=4,
            max_len=50, seeds=3)
QUICK = dict(max_sequences=500, vocab_size=1000, embedding=16, hidden=16, epochs=1,
             max_len=24, seeds=2)


def parse_args(argv=None):
    from lasagne_lstm import backends
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0].replace("\n", " "),
        epilog="Full-size defaults: " + ", ".join("%s=%s" % kv for kv in FULL.items())
        + " (max_sequences None = the whole corpus); --quick: "
        + ", ".join("%s=%s" % kv for kv in QUICK.items())
        + ". Example: python experiments/sentiment.py --out experiments/results/sentiment",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, metavar="RESULTS_DIR",
                   help="folder for the CSV file, plots and summary (created)")
    p.add_argument("--quick", action="store_true",
                   help="smoke-sized run (tiny model, 500 sentences, 1 epoch; < 3 min)")
    p.add_argument("--corpus", default="polarity",
                   help="a labelled corpus: polarity (default), brown (genres) or a "
                   "folder with one subfolder per label")
    p.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    p.add_argument("--seeds", type=int,
                   help="number of seeds: --seed, --seed+1, ... (default 3, quick 2)")
    p.add_argument("--epochs", type=int, help="epochs per run (default %s, quick %s)"
                   % (FULL["epochs"], QUICK["epochs"]))
    p.add_argument("--backend", default=backends.DEFAULT_BACKEND, choices=backends.BACKENDS,
                   help="PyTensor backend (default: the library's, %s)"
                   % backends.DEFAULT_BACKEND)
    p.add_argument("--max-sequences", type=int,
                   help="sentences taken before the 90/5/5 split (default: all; quick %d)"
                   % QUICK["max_sequences"])
    p.add_argument("--vocab-size", type=int, help="vocabulary size (default %d, quick %d)"
                   % (FULL["vocab_size"], QUICK["vocab_size"]))
    p.add_argument("--embedding", type=int, help="embedding size (default %d, quick %d)"
                   % (FULL["embedding"], QUICK["embedding"]))
    p.add_argument("--hidden", type=int, help="LSTM units (default %d, quick %d)"
                   % (FULL["hidden"], QUICK["hidden"]))
    p.add_argument("--max-len", type=int, help="longer sentences are truncated "
                   "(default %d, quick %d)" % (FULL["max_len"], QUICK["max_len"]))
    p.add_argument("--batch-size", type=int, default=32,
                   help="sentences per update (default 32)")
    p.add_argument("--optimizer", default="adam", help="update rule (default adam)")
    p.add_argument("--learning-rate", type=float, default=2e-3,
                   help="learning rate (default 2e-3)")
    p.add_argument("--grad-clipping", type=float, default=5.0,
                   help="LSTM per-step gradient clipping (default 5)")
    p.add_argument("--configs", default=",".join(DEFAULT_CONFIGS),
                   help="comma-separated configurations (default %%(default)s; known: %s)"
                   % ", ".join(CONFIGS))
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--from-results", action="store_true",
                   help="train nothing: redraw the plots and summary from "
                   "RESULTS_DIR/results.json of an earlier run")
    args = p.parse_args(argv)
    common.finish_sizes_and_configs(p, args, QUICK, FULL, CONFIGS)
    if args.seeds < 1:  # after the sizes filled it in
        p.error("--seeds must be at least 1")
    return args


def base_config(args, seed):
    return dict(corpus=args.corpus, task="classify", level="word", lowercase=True,
                max_sequences=args.max_sequences, vocab_size=args.vocab_size,
                max_len=args.max_len, batch_size=args.batch_size, seed=seed,
                embedding=args.embedding, hidden=args.hidden, layers=1,
                grad_clipping=args.grad_clipping, bidirectional=False,
                optimizer=args.optimizer, learning_rate=args.learning_rate,
                epochs=args.epochs, backend=args.backend, float_type="float32",
                bucketing="pool", mode="masked", micro_batch=1, weighting="tokens",
                accumulate=None)


def train_one(args, seed, name):
    from lasagne_lstm.training.engine import Run
    config = dict(base_config(args, seed), **CONFIGS[name])
    log = common.LogCollector()
    run = Run(config, log=log, progress=not args.no_progress)
    rows = []
    start = time.perf_counter()
    for epoch in range(args.epochs):
        run.config["epochs"] = epoch + 1
        run.fit()
        record = run.history[-1]
        test = run.evaluate("test")
        rows.append(dict(seed=seed, config=name, epoch=epoch + 1,
                         train_loss=record["train_loss"],
                         valid_loss=record["valid_loss"],
                         valid_accuracy=record["valid_accuracy"],
                         test_accuracy=test["accuracy"], test_loss=test["loss"],
                         tokens_per_s=record["tokens_per_s"],
                         seconds=time.perf_counter() - start))
    sizes = dict(train=len(run.corpus.train), valid=len(run.corpus.valid),
                 test=len(run.corpus.test), vocab=len(run.vocab),
                 labels=list(run.corpus.label_names))
    return rows, sizes


def mean_std(values):
    values = [v for v in values if v is not None]
    if not values:
        return None, None
    return statistics.mean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def pm(values, scale=100.0):
    m, s = mean_std(values)
    return "–" if m is None else "%.1f ± %.1f" % (scale * m, scale * s)


def analyse(rows, config_names, seeds):
    out = OrderedDict()
    for name in config_names:
        final, best, valid_final, tps = [], [], [], []
        for seed in seeds:
            rs = [r for r in rows if r["config"] == name and r["seed"] == seed]
            if not rs:
                continue
            final.append(rs[-1]["test_accuracy"])
            valid_final.append(rs[-1]["valid_accuracy"])
            pick = max(rs, key=lambda r: (r["valid_accuracy"], -r["epoch"]))
            best.append(pick["test_accuracy"])
            tps.extend(r["tokens_per_s"] for r in rs if r["tokens_per_s"])
        out[name] = dict(final=final, best=best, valid_final=valid_final,
                         tokens_per_s=statistics.mean(tps) if tps else None)
    return out


def plot(rows, config_names, seeds, epochs, out):
    plt = common.pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for k, name in enumerate(config_names):
        # a small offset per configuration keeps identical curves visible
        shift = 0.04 * (k - (len(config_names) - 1) / 2.0)
        for key, style in (("valid_accuracy", "--"), ("test_accuracy", "-")):
            xs, ms, ss = [], [], []
            for e in range(1, epochs + 1):
                vals = [r[key] for r in rows if r["config"] == name and r["epoch"] == e]
                if vals:
                    m, s = mean_std(vals)
                    xs.append(e + shift)
                    ms.append(100 * m)
                    ss.append(100 * s)
            ax.errorbar(xs, ms, yerr=ss, linestyle=style, marker="o", capsize=3,
                        label="%s %s" % (name, key.split("_")[0]))
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy %% (mean ± std over %d seeds)" % len(seeds))
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(out, "accuracy_by_epoch.png"), dpi=90)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5.5, 4))
    for i, name in enumerate(config_names):
        vals = [100 * r["test_accuracy"] for r in rows
                if r["config"] == name and r["epoch"] == epochs]
        if not vals:
            continue
        m, s = mean_std(vals)
        ax.bar(i, m, yerr=s, capsize=6, alpha=0.6)
        ax.scatter([i] * len(vals), vals, color="k", zorder=3, s=12)
    ax.set_xticks(range(len(config_names)))
    ax.set_xticklabels(config_names)
    ax.set_ylabel("test accuracy % after the last epoch")
    ax.set_ylim(40, 100)
    ax.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "test_accuracy.png"), dpi=90)
    plt.close(fig)


def summary(args, rows, sizes, seeds, wall, machine):
    stats = analyse(rows, args.config_names, seeds)
    lines = ["# Sentence polarity: masked LSTM classifier, masking vs accumulation", "",
             "Command: `python experiments/sentiment.py %s`" % " ".join(sys.argv[1:]), "",
             "Machine: %s." % machine, "",
             "Data: %s, %d train / %d valid / %d test sentences (90/5/5 split, shuffled "
             "with the seed), labels %s, vocabulary %d. Model: embedding %d → LSTM %d "
             "units (mask, only_return_final, grad_clipping %s) → softmax; %s lr %g, batch "
             "%d, max length %d, %d epochs, backend %s, float32. Seeds: %s."
             % (args.corpus, sizes["train"], sizes["valid"], sizes["test"],
                "/".join(sizes["labels"]), sizes["vocab"], args.embedding, args.hidden,
                args.grad_clipping, args.optimizer, args.learning_rate, args.batch_size,
                args.max_len, args.epochs, args.backend,
                ", ".join(str(s) for s in seeds)), "",
             "Accuracy in %%, mean ± standard deviation over the seeds. \"At best valid\": "
             "the test accuracy of the epoch with the highest validation accuracy. With "
             "%d test sentences one sentence is %.2f points." % (
                 sizes["test"], 100.0 / max(sizes["test"], 1)), ""]
    lines.append(common.markdown_table(
        ["config", "test acc (last epoch)", "test acc (at best valid)",
         "valid acc (last epoch)", "tokens/s"],
        [[name, pm(s["final"]), pm(s["best"]), pm(s["valid_final"]),
          "%.0f" % s["tokens_per_s"] if s["tokens_per_s"] else "–"]
         for name, s in stats.items()]))
    lines += ["", "Per seed (test accuracy after the last epoch):", ""]
    lines.append(common.markdown_table(
        ["seed"] + list(stats),
        [[str(seed)] + ["%.1f" % (100 * r["test_accuracy"]) for name in stats
                        for r in rows if r["config"] == name and r["seed"] == seed
                        and r["epoch"] == args.epochs] for seed in seeds]))
    lines += ["", "Per epoch (mean over seeds):", ""]
    per_epoch = []
    for name in stats:
        for e in range(1, args.epochs + 1):
            rs = [r for r in rows if r["config"] == name and r["epoch"] == e]
            if rs:
                per_epoch.append([name, str(e),
                                  "%.4f" % statistics.mean(r["train_loss"] for r in rs),
                                  pm([r["valid_accuracy"] for r in rs]),
                                  pm([r["test_accuracy"] for r in rs])])
    lines.append(common.markdown_table(
        ["config", "epoch", "train loss", "valid acc", "test acc"], per_epoch))
    lines += ["", "![accuracy by epoch](accuracy_by_epoch.png)", "",
              "![test accuracy](test_accuracy.png)", "",
              "tokens/s: real tokens per second of the training updates that compiled nothing "
              "(engine figure, mean over epochs and seeds) on a shared "
              "2-core machine. Total wall-clock of this script: %.0f s." % wall]
    return "\n".join(lines) + "\n"


def main(argv=None):
    args = parse_args(argv)
    from tqdm import tqdm
    start = time.perf_counter()
    machine = common.machine_line()
    os.makedirs(args.out, exist_ok=True)
    if args.from_results:
        with open(os.path.join(args.out, "results.json")) as f:
            saved = json.load(f)
        for key, value in saved["args"].items():
            if key not in ("out", "from_results"):
                setattr(args, key, value)
        sys.argv = saved.get("argv", sys.argv)
        rows, sizes, seeds = saved["rows"], saved["sizes"], saved["seeds"]
        plot(rows, args.config_names, seeds, args.epochs, args.out)
        text = summary(args, rows, sizes, seeds, saved.get("wall_s") or 0.0,
                       saved.get("machine") or common.machine_line())
        with open(os.path.join(args.out, "summary.md"), "w") as f:
            f.write(text)
        print(text)
        return
    seeds = list(range(args.seed, args.seed + args.seeds))
    rows, sizes = [], None
    jobs = [(seed, name) for seed in seeds for name in args.config_names]
    for seed, name in tqdm(jobs, desc="runs", file=sys.stderr, disable=args.no_progress):
        print("\nseed %d, %s" % (seed, name), file=sys.stderr)
        new, sizes_seed = train_one(args, seed, name)
        sizes = sizes or sizes_seed
        rows.extend(new)
        last = new[-1]
        print("seed %d %-10s valid acc %.3f test acc %.3f" % (
            seed, name, last["valid_accuracy"], last["test_accuracy"]), file=sys.stderr)
        common.write_csv(os.path.join(args.out, "runs.csv"), rows)
    plot(rows, args.config_names, seeds, args.epochs, args.out)
    text = summary(args, rows, sizes, seeds, time.perf_counter() - start, machine)
    with open(os.path.join(args.out, "summary.md"), "w") as f:
        f.write(text)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(dict(rows=rows, sizes=sizes, seeds=seeds, argv=sys.argv, machine=machine,
                       wall_s=time.perf_counter() - start,
                       configs={n: CONFIGS[n] for n in args.config_names},
                       args={k: v for k, v in vars(args).items()}), f, indent=1)
    print(text)


if __name__ == "__main__":
    main()
