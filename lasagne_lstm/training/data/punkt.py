"""Punkt's unsupervised training, shared between worker processes.

NLTK's ``PunktTrainer`` learns its parameters in one pass of pure Python
over the text (Shakespeare's 5 MB on a 2-CPU AMD EPYC: 9.0 s on one core,
4.7 s in two workers, ``python benchmarks/cold_start.py --parts``; 15.2 s
and 8.8 s with the timeout NLTK puts on every match, which the classes here
run without: see ``tokenize.untimed``). The pass splits into
three steps whose statistics add up over pieces of the text, with global
decisions between them:

1. tokens, their type counts and the number of period-final tokens;
   *then, over all counts:* which types are abbreviations;
2. each token's first-pass annotation (sentence break, abbreviation,
   ellipsis), the orthographic contexts (or-ed flags per type) and the
   number of sentence breaks; *then:* the contexts of the whole text;
3. over pairs of tokens: rare abbreviations, sentence-starter and
   collocation counts; *then:* NLTK's own ``finalize_training``.

The text is cut only after a line that ends in a letter or digit and
before a non-blank line. There, NLTK's pass has no state to carry over: the
next line's first token starts no paragraph; the orthographic context after
a token that ends in a letter is "internal", where NLTK's loop starts; and
the pair across the cut is skipped, its first token not being
period-final. So the parameters equal those of one pass over the whole
text, whatever the number of pieces.
"""
import multiprocessing
import traceback
from collections import defaultdict

__all__ = ["punkt_parameters", "PARALLEL_MIN_CHARS"]

#: Texts shorter than this are trained in this process (forking costs more).
PARALLEL_MIN_CHARS = 1_000_000


def punkt_parameters(text, workers=1, min_chars=PARALLEL_MIN_CHARS):
    """The ``PunktParameters`` NLTK's ``PunktTrainer`` learns from ``text``,
    learned in ``workers`` forked processes when the text is long enough and
    can be cut (see the module docstring)."""
    from .tokenize import punkt_options
    options = punkt_options()  # imports NLTK first, its own way
    from nltk.tokenize.punkt import PunktTrainer
    pieces = cut_points(text, workers) if workers > 1 and len(text) >= min_chars else []
    if not pieces:
        return PunktTrainer(text, **options).get_params()
    return _train_in_workers([text[a:b] for a, b in pieces])


def cut_points(text, n):
    """``[(start, end), ...]`` covering ``text`` in at most ``n`` pieces,
    each cut at a newline after a line ending in a letter or digit and
    before a non-blank line; [] when no such cut exists."""
    cuts = []
    for k in range(1, n):
        at = text.find("\n", max(len(text) * k // n, cuts[-1] + 1 if cuts else 0))
        while at != -1 and not _cuttable(text, at):
            at = text.find("\n", at + 1)
        if at == -1:
            break
        cuts.append(at)
    if not cuts:
        return []
    starts = [0] + [c + 1 for c in cuts]  # the newline itself is the cut
    return list(zip(starts, cuts + [len(text)]))


def _cuttable(text, at):
    line_start = text.rfind("\n", 0, at) + 1
    before = text[line_start:at].rstrip()
    after_end = text.find("\n", at + 1)
    after = text[at + 1:after_end if after_end != -1 else len(text)]
    return bool(before) and before[-1].isalnum() and bool(after.strip())


def _train_in_workers(pieces):
    from nltk.tokenize.punkt import PunktTrainer
    from .tokenize import punkt_options
    context = multiprocessing.get_context("fork")
    links, workers = [], []
    try:
        for piece in pieces:
            parent, child = context.Pipe()
            worker = context.Process(target=_worker, args=(piece, child), daemon=True,
                                     name="punkt-training")
            worker.start()
            child.close()
            links.append(parent)
            workers.append(worker)
        trainer = PunktTrainer(**punkt_options())
        # step 1: counts, then the abbreviations of the whole text
        for type_counts, period_tokens in _gather(links):
            trainer._type_fdist.update(type_counts)
            trainer._num_period_toks += period_tokens
        for abbr, score, is_add in trainer._reclassify_abbrev_types(set(trainer._type_fdist)):
            if score >= trainer.ABBREV and is_add:
                trainer._params.abbrev_types.add(abbr)
            elif score < trainer.ABBREV and not is_add:
                trainer._params.abbrev_types.remove(abbr)
        # step 2: annotations and orthographic contexts
        _scatter(links, set(trainer._params.abbrev_types))
        for ortho_context, sentbreaks in _gather(links):
            for typ, flags in ortho_context.items():
                trainer._params.add_ortho_context(typ, flags)
            trainer._sentbreak_count += sentbreaks
        # step 3: the pairs, against the whole text's counts and contexts
        _scatter(links, (dict(trainer._type_fdist), dict(trainer._params.ortho_context)))
        for abbrev_types, starters, collocations in _gather(links):
            trainer._params.abbrev_types.update(abbrev_types)
            trainer._sent_starter_fdist.update(starters)
            trainer._collocation_fdist.update(collocations)
        trainer.finalize_training()  # a new trainer counts as finalized: do it here
        return trainer.get_params()
    finally:
        for link in links:
            link.close()
        for worker in workers:
            worker.join(timeout=5)
            if worker.is_alive():
                worker.terminate()
                worker.join()


def _scatter(links, message):
    for link in links:
        link.send(message)


def _gather(links):
    replies = []
    for link in links:
        try:
            status, reply = link.recv()
        except EOFError:
            raise RuntimeError("a Punkt training worker died") from None
        if status != "ok":
            raise RuntimeError("a Punkt training worker failed:\n%s" % reply)
        replies.append(reply)
    return replies


def _worker(piece, link):
    """One piece's share of the three steps, between the parent's messages."""
    from .tokenize import _worker_signals
    _worker_signals()
    try:
        _worker_steps(piece, link)
    except (EOFError, BrokenPipeError):
        pass  # the parent stopped (interrupted, or another worker failed)
    except Exception:
        try:
            link.send(("error", traceback.format_exc()))
        except OSError:
            pass
    finally:
        link.close()


def _worker_steps(piece, link):
    from nltk.tokenize.punkt import PunktTrainer, _pair_iter
    from .tokenize import punkt_options
    trainer = PunktTrainer(**punkt_options())
    tokens = list(trainer._tokenize_words(piece))
    period_tokens = 0
    for token in tokens:
        trainer._type_fdist[token.type] += 1
        period_tokens += token.period_final
    link.send(("ok", (dict(trainer._type_fdist), period_tokens)))

    trainer._params.abbrev_types = link.recv()
    tokens = list(trainer._annotate_first_pass(tokens))
    trainer._get_orthography_data(tokens)
    link.send(("ok", (dict(trainer._params.ortho_context),
                      trainer._get_sentbreak_count(tokens))))

    type_counts, ortho_context = link.recv()
    trainer._type_fdist.clear()
    trainer._type_fdist.update(type_counts)
    trainer._params.ortho_context = defaultdict(int, ortho_context)
    # NLTK's loop over pairs (PunktTrainer._train_tokens), counts kept apart
    for first, second in _pair_iter(tokens):
        if not first.period_final or not second:
            continue
        if trainer._is_rare_abbrev_type(first, second):
            trainer._params.abbrev_types.add(first.type_no_period)
        if trainer._is_potential_sent_starter(second, first):
            trainer._sent_starter_fdist[second.type] += 1
        if trainer._is_potential_collocation(first, second):
            trainer._collocation_fdist[(first.type_no_period,
                                        second.type_no_sentperiod)] += 1
    link.send(("ok", (trainer._params.abbrev_types,  # the parent's, plus rare ones
                      dict(trainer._sent_starter_fdist), dict(trainer._collocation_fdist))))
