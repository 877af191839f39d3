"""Zaremba et al. (2014), "small" configuration, on the Penn Treebank sample.

The setting of the paper, as the engine's stream task and its
``zaremba-small`` preset (``lasagne-lstm train CORPUS --preset
zaremba-small``): the corpus as one token stream (each sentence followed by
<eos>) cut into 20 rows, truncated backpropagation over windows of 20
tokens, the hidden and cell states carried from one window to the next
(Lasagne's layer-valued ``hid_init``/``cell_init``), a 2-layer LSTM of 200
units without dropout, weights uniform in ±0.1, plain SGD with learning rate
1 halved after every epoch from the 5th on, gradients rescaled to a global
norm of at most 5, 13 epochs. The run checkpoints into ``--out`` after every
epoch; ``--resume`` continues an interrupted run exactly.

Differences from the paper, stated in the summary: the paper trains on the
full PTB (929k training tokens, Mikolov's preprocessing with a 10k
vocabulary); this runs on NLTK's 10% sample of the WSJ part (about 94k
tokens; lowercased, the 10k most frequent tokens kept) and, with
``--corpus brown``, on the Brown corpus. The corpus loader shuffles
sentences before splitting, so the stream follows no document order.

Writes ``epochs.csv``, ``perplexity.png``, ``result.json`` and ``summary.md``
into ``--out``.

Example::

    python experiments/ptb_small.py --out experiments/results/ptb_small
    python experiments/ptb_small.py --corpus brown --out experiments/results/ptb_small_brown
"""
import argparse
import csv
import json
import os
import pathlib
import sys

PAPER = {"valid": 120.7, "test": 114.5}  # Zaremba et al. 2014, Table 1, small
PRESET = "zaremba-small"


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="results folder (created)")
    p.add_argument("--corpus", default="ptb-sample",
                   help="corpus name or path (default: %(default)s)")
    p.add_argument("--max-sequences", type=int, default=0,
                   help="use at most N sentences (0: all; default: %(default)s)")
    p.add_argument("--hidden", type=int, default=None,
                   help="units per layer and embedding size (default: the preset's 200)")
    p.add_argument("--epochs", type=int, default=None,
                   help="epochs (default: the preset's 13)")
    p.add_argument("--backend", default=None,
                   help="PyTensor backend (default: the library's default)")
    p.add_argument("--seed", type=int, default=0, help="seed (default: %(default)s)")
    p.add_argument("--resume", action="store_true",
                   help="continue from the checkpoint in --out")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 2 epochs, 2000 sentences, 64 units")
    args = p.parse_args(argv)
    if args.quick:
        args.epochs, args.max_sequences, args.hidden = 2, 2000, 64
    return args


def run_settings(args):
    """The engine settings: the preset, then this script's overrides."""
    from lasagne_lstm.training import config
    overrides = dict(corpus=args.corpus, max_sequences=args.max_sequences,
                     seed=args.seed, float_type="float32")
    if args.hidden:
        overrides.update(hidden=args.hidden, embedding=args.hidden)
    if args.epochs:
        overrides["epochs"] = args.epochs
    if args.backend:
        overrides["backend"] = args.backend
    return config.resolve(config.apply_preset(PRESET, overrides))


def main(argv=None):
    args = parse_args(argv)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PYTENSOR_FLAGS", "floatX=float32")
    from lasagne_lstm.training.data import lm_stream
    from lasagne_lstm.training.engine import Run

    path = str(out / "checkpoint.npz")
    settings = run_settings(args)
    if args.resume:
        run = Run({k: settings[k] for k in ("epochs", "backend")}, resume=path)
    else:
        run = Run(settings)
    c = run.config
    print("%s: vocabulary %d, backend %s" % (run.corpus.name, len(run.vocab), c["backend"]),
          file=sys.stderr)
    history = run.fit(path)
    rows = [dict(epoch=r["epoch"], learning_rate=r["learning_rate"],
                 train_perplexity=r["train_perplexity"],
                 valid_perplexity=r["valid_perplexity"], tokens_per_s=r["tokens_per_s"])
            for r in history]
    test = run.evaluate("test")
    tokens = {split: len(lm_stream(run.vocab, getattr(run.corpus, split)))
              for split in ("train", "valid", "test")}
    result = dict(corpus=run.corpus.name, tokens=tokens, vocab=len(run.vocab),
                  backend=c["backend"], epochs=rows, test_perplexity=test["perplexity"],
                  train_seconds=history[-1]["wall_time"] if history else None,
                  settings={k: c[k] for k in ("layers", "hidden", "num_steps", "batch_size",
                                               "learning_rate", "lr_decay", "lr_decay_start",
                                               "max_grad_norm", "init_range", "epochs",
                                               "dropout")})
    write_results(out, result)
    print(json.dumps({"valid_perplexity": rows[-1]["valid_perplexity"],
                      "test_perplexity": result["test_perplexity"]}))
    return 0


def write_results(out, result):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = result["epochs"]
    with open(out / "epochs.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    (out / "result.json").write_text(json.dumps(result, indent=1))
    fig, ax = plt.subplots(figsize=(6, 4))
    epochs = [r["epoch"] for r in rows]
    ax.plot(epochs, [r["train_perplexity"] for r in rows], "o-", label="train")
    ax.plot(epochs, [r["valid_perplexity"] for r in rows], "s-", label="valid")
    if result["corpus"] == "ptb-sample":
        ax.axhline(PAPER["valid"], color="gray", ls="--",
                   label="paper, valid (full PTB)")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("perplexity")
    ax.set_title("Zaremba small on %s" % result["corpus"])
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "perplexity.png", dpi=110)
    s = result["settings"]
    lines = [
        "# Zaremba et al. (2014) small configuration on %s" % result["corpus"], "",
        "%d×%d LSTM, %d steps, batch %d, SGD lr %g times %.3g after every epoch from "
        "epoch %d on, global norm clip %g, init ±%g, dropout %g, %d epochs, backend %s "
        "(the engine's stream task, preset %s)." % (
            s["layers"], s["hidden"], s["num_steps"], s["batch_size"], s["learning_rate"],
            s["lr_decay"], s["lr_decay_start"], s["max_grad_norm"], s["init_range"],
            s["dropout"], s["epochs"], result["backend"], PRESET),
        "Tokens (train/valid/test): %s; vocabulary %d." % (
            "/".join(str(result["tokens"][k]) for k in ("train", "valid", "test")),
            result["vocab"]), "",
        "| epoch | lr | train ppl | valid ppl | tokens/s |", "| --- | --- | --- | --- | --- |"]
    lines += ["| %d | %.4g | %.2f | %.2f | %.0f |" % (
        r["epoch"], r["learning_rate"], r["train_perplexity"], r["valid_perplexity"],
        r["tokens_per_s"]) for r in rows]
    lines += ["", "Final: valid %.2f, test %.2f (training time %.0f s)." % (
        rows[-1]["valid_perplexity"], result["test_perplexity"], result["train_seconds"])]
    if result["corpus"] == "ptb-sample":
        lines += ["", "Paper (full PTB, 929k training tokens): valid %.1f, test %.1f. "
                  "This run uses NLTK's 10%% sample (about a tenth of the data), so "
                  "higher perplexities are expected." % (PAPER["valid"], PAPER["test"])]
    (out / "summary.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
