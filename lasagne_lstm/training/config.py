"""Every setting of a training run, defined once.

:data:`SETTINGS` lists each setting as a :class:`Setting`: its name (the key
of the run's configuration dict, stored in every checkpoint), how a flag's
text is parsed and checked, its default, help text, group, choices, flag
spelling, and whether ``--resume`` may change it. Everything else is derived
from that list:

* :data:`DEFAULTS` (name -> default) and :data:`MODEL_KEYS` (the settings
  that build the network), used by :mod:`lasagne_lstm.training.engine`;
* the flags of ``lasagne-lstm train`` and the corpus and batching flags that
  ``lasagne-lstm data stats`` shares with it (:func:`add_arguments`);
* the ``--resume`` rules (:data:`RESUMABLE`, :func:`resume_conflicts`) and
  the presets (:data:`PRESETS`, :func:`apply_preset`), both listed in
  ``train --help`` (:func:`train_epilog`).

Flags are parsed with a default of ``None``, so a parsed namespace tells
which settings were given on the command line (:func:`given_settings`);
:func:`resolve` fills in the rest from :data:`DEFAULTS`.

This module imports neither PyTensor nor the engine, so that building the
command line parser (and answering ``--help``) stays fast. The names of the
update rules, weightings and strategies are therefore written out here; the
tests check them against the modules that implement them.
"""
import argparse
import dataclasses
import math
import os
import textwrap
from typing import Any, Callable, Optional

from .. import backends
from .errors import SettingsError

# -- the values a choice setting takes ---------------------------------------
TASKS = ("lm", "classify", "stream")
LEVELS = ("word", "char")
OVERFLOW_ACTIONS = ("truncate", "split", "drop")
BUCKETING_STRATEGIES = ("none", "pool", "boundaries", "tokens")
CELLS = ("lstm", "gru")
MODES = ("masked", "accumulate")
WEIGHTINGS = ("tokens", "sequences")
OPTIMIZER_NAMES = ("sgd", "momentum", "nesterov_momentum", "adagrad", "rmsprop",
                   "adadelta", "adam", "adamax", "amsgrad")
SCHEDULES = ("constant", "decay", "plateau")
FLOAT_TYPES = ("float32", "float64")
DISTRIBUTED = ("none", "mpi")

#: Argument groups of ``train --help``, in order: name -> what they hold.
GROUPS = {
    "data": "the corpus, its vocabulary and how sequences become batches",
    "model": "the network",
    "training": "update rule, learning-rate schedule, length of training, backend",
    "output": "checkpoints, logs and progress",
}


# -- parsing numbers ----------------------------------------------------------
def number_parser(kind, minimum=None, exclusive=False, below=None):
    """An argparse ``type``: the text as a finite number in a range.

    Parameters
    ----------
    kind : type
        ``int`` or ``float``.
    minimum : int or float, optional
        Smallest value accepted (with ``exclusive``, values must exceed it).
    exclusive : bool
        Whether ``minimum`` itself is refused.
    below : int or float, optional
        Values must be less than this.

    Returns
    -------
    callable
        ``parse(text) -> number``, raising :class:`argparse.ArgumentTypeError`
        with a message such as ``must be positive, got 0`` for text that is
        not a number of ``kind``, is NaN or infinite, or is out of range.
    """
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                "%r is not %s" % (text, "an integer" if kind is int else "a number")) from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError("must be a finite number, got %s" % text)
        too_small = minimum is not None and (value <= minimum if exclusive else value < minimum)
        too_large = below is not None and value >= below
        if too_small or too_large:
            if below is not None and minimum is not None:
                bound = "in %s%s, %s)" % ("(" if exclusive else "[", minimum, below)
            elif below is not None:
                bound = "less than %s" % below
            elif exclusive:
                bound = "positive" if minimum == 0 else "more than %s" % minimum
            else:
                bound = "at least %s" % minimum
            raise argparse.ArgumentTypeError("must be %s, got %s" % (bound, text))
        return value
    parse.__name__ = kind.__name__  # argparse names the type in some messages
    return parse


positive_int = number_parser(int, 0, exclusive=True)
non_negative_int = number_parser(int, 0)
positive_float = number_parser(float, 0, exclusive=True)
non_negative_float = number_parser(float, 0)
probability = number_parser(float, 0, below=1)
#: NumPy's RandomState takes seeds in [0, 2**32).
seed_int = number_parser(int, 0, below=2 ** 32)
#: A vocabulary holds the 4 reserved entries and at least one token.
vocabulary_size = number_parser(int, 5)


# -- the definition -----------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Setting:
    """One setting of a training run.

    Attributes
    ----------
    name : str
        Key in the run's configuration dict and the flag's ``dest``.
    default
        Value when neither the command line nor a preset or checkpoint gives one.
    help : str
        What the setting does, without its default (see ``default_text``).
    group : str
        One of :data:`GROUPS`.
    parse : callable
        Turns the flag's text into the value and checks it; ``bool`` makes
        the setting a switch (``--flag`` / ``--no-flag``).
    choices : tuple, optional
        The values allowed.
    option : str, optional
        Flag spelling when it is not ``--`` + name with dashes.
    aliases : tuple of str
        Older spellings, accepted but not shown in ``--help``.
    resumable : bool
        Whether ``--resume`` may change the value.
    model : bool
        Whether the setting is passed to the model builder (:data:`MODEL_KEYS`).
    in_config : bool
        Whether the setting belongs to the run's configuration dict (and so to
        :data:`DEFAULTS` and checkpoints); False for command-line-only ones.
    data_stats : bool
        Whether ``lasagne-lstm data stats`` takes the flag too.
    positional : bool
        Given as a positional argument, not a flag.
    default_text : str, optional
        How ``--help`` states the default, where the value itself would not say.
    metavar : str, optional
        Name of the flag's value in ``--help``.
    """

    name: str
    default: Any
    help: str
    group: str
    parse: Callable = str
    choices: Optional[tuple] = None
    option: Optional[str] = None
    aliases: tuple = ()
    resumable: bool = False
    model: bool = False
    in_config: bool = True
    data_stats: bool = False
    positional: bool = False
    default_text: Optional[str] = None
    metavar: Optional[str] = None

    @property
    def flag(self):
        """The command-line spelling: ``--vocab-size``, or ``CORPUS`` for a positional."""
        if self.positional:
            return self.metavar or self.name.upper()
        return self.option or "--" + self.name.replace("_", "-")

    @property
    def is_switch(self):
        """Whether the setting is on/off, given as ``--flag`` or ``--no-flag``."""
        return self.parse is bool

    def help_text(self, show_default=True):
        """The help line: what the setting does and its default."""
        if not show_default:
            return self.help
        shown = self.default_text if self.default_text is not None else \
            format_value(self, self.default)
        return "%s (default: %s)" % (self.help, shown)


def format_value(setting, value, exact=False):
    """A value as the command line writes it (``on``/``off`` for switches);
    floats in 6 significant digits unless ``exact``."""
    if value is None:
        return "none"
    if setting.is_switch:
        return "on" if value else "off"
    if isinstance(value, float) and not exact:
        return "%g" % value
    return str(value)


def _same_corpus(a, b):
    """Two corpus names or paths name the same corpus (paths may be spelled
    differently)."""
    if a == b:
        return True
    try:
        return os.path.samefile(a, b)
    except (OSError, TypeError, ValueError):
        return False


# -- presets ------------------------------------------------------------------
_ZAREMBA_ALL = dict(task="stream", layers=2, vocab_size=10000, max_sequences=0,
                    optimizer="sgd", learning_rate=1.0, lr_schedule="decay",
                    grad_clipping=0.0, cell="lstm", batch_size=20, tie_embeddings=False)
#: Named sets of settings. The Zaremba, Sutskever & Vinyals (2014) recipes
#: ("Recurrent Neural Network Regularization", word-level Penn Treebank):
#: a 2-layer LSTM over one token stream with carried state, embedding as wide
#: as the hidden layer, plain SGD at learning rate 1 decayed per epoch, the
#: gradient's global norm clipped, the whole corpus.
PRESETS = {
    "zaremba-small": dict(_ZAREMBA_ALL, hidden=200, embedding=200, num_steps=20,
                          dropout=0.0, init_range=0.1, epochs=13, lr_decay=0.5,
                          lr_decay_start=4, max_grad_norm=5.0),
    "zaremba-medium": dict(_ZAREMBA_ALL, hidden=650, embedding=650, num_steps=35,
                           dropout=0.5, init_range=0.05, epochs=39, lr_decay=1 / 1.2,
                           lr_decay_start=6, max_grad_norm=5.0),
    "zaremba-large": dict(_ZAREMBA_ALL, hidden=1500, embedding=1500, num_steps=35,
                          dropout=0.65, init_range=0.04, epochs=55, lr_decay=1 / 1.15,
                          lr_decay_start=14, max_grad_norm=10.0),
}
#: The paper's Penn Treebank (validation, test) perplexities of each preset.
PRESET_PAPER_PERPLEXITIES = {
    "zaremba-small": (120.7, 114.5),
    "zaremba-medium": (86.2, 82.7),
    "zaremba-large": (82.2, 78.4),
}


def _preset_help():
    """The ``--preset`` help: the presets and the paper's perplexities."""
    return ("a recipe of Zaremba, Sutskever & Vinyals (2014) for word-level Penn "
            "Treebank, listed below; flags given override its values: %s"
            % "; ".join("%s (the paper's PTB perplexity: valid %.1f, test %.1f)"
                        % ((name,) + PRESET_PAPER_PERPLEXITIES[name])
                        for name in PRESETS))


#: Every setting, in ``--help`` order within each group.
SETTINGS = (
    # -- data ----------------------------------------------------------------
    Setting("corpus", "shakespeare",
            "corpus name (shakespeare, brown, ptb-sample, polarity; fetched on first "
            "use) or a path to a text file or a folder of .txt files",
            "data", positional=True, metavar="CORPUS", data_stats=True),
    Setting("task", "lm",
            "lm: language model over sequences (next token); classify: one label "
            "per sequence; stream: language model over the corpus as one token "
            "stream, state carried from window to window (Zaremba et al. 2014)",
            "data", choices=TASKS, model=True, data_stats=True),
    Setting("level", "word", "tokens are words (NLTK Treebank style) or characters",
            "data", choices=LEVELS, data_stats=True),
    Setting("lowercase", True, "lowercase the text", "data", parse=bool, data_stats=True),
    Setting("max_sequences", 20000,
            "use at most N sequences of the corpus, chosen by --seed; 0 uses all",
            "data", parse=non_negative_int, metavar="N", data_stats=True),
    Setting("vocab_size", 10000,
            "keep the N most frequent training tokens, the 4 reserved entries "
            "(<pad>, <unk>, <bos>, <eos>) included; rarer ones become <unk>",
            "data", parse=vocabulary_size, metavar="N", aliases=("--max-vocab",),
            data_stats=True),
    Setting("min_count", 1, "training tokens seen fewer times become <unk>",
            "data", parse=positive_int, metavar="N", data_stats=True),
    Setting("max_len", 60, "longest sequence in tokens; longer ones follow --overflow",
            "data", parse=positive_int, metavar="N", data_stats=True),
    Setting("overflow", "truncate", "what to do with sequences longer than --max-len",
            "data", choices=OVERFLOW_ACTIONS, data_stats=True),
    Setting("batch_size", 32, "sequences per batch (rows of the stream with --task stream)",
            "data", parse=positive_int, metavar="N", data_stats=True),
    Setting("bucketing", "pool", "how sequences are grouped into batches", "data",
            choices=BUCKETING_STRATEGIES, data_stats=True),
    Setting("pad_multiple", None, "round padded lengths up to a multiple of K", "data",
            parse=positive_int, metavar="K", data_stats=True,
            default_text="4 when training on --backend jax, which compiles one "
                         "function per shape, else 1"),
    Setting("pad_growth", None,
            "padded lengths come from the ladder K, then each rung the previous "
            "times G rounded up to a multiple of K; 1 allows every multiple", "data",
            parse=number_parser(float, 1), metavar="G", data_stats=True,
            default_text="1.3 when training on --backend jax, else 1"),
    Setting("encoding", None, "text encoding of a corpus given by path", "data",
            metavar="NAME", data_stats=True, default_text="strict UTF-8"),
    Setting("seed", 0, "seed of splits, batch order and initial weights", "data",
            parse=seed_int, metavar="N", data_stats=True),
    # -- model ---------------------------------------------------------------
    Setting("embedding", 128, "embedding size", "model", parse=positive_int,
            metavar="N", model=True),
    Setting("hidden", 256, "recurrent units per layer", "model", parse=positive_int,
            metavar="N", model=True),
    Setting("layers", 1, "stacked recurrent layers (language models)", "model",
            parse=positive_int, metavar="N", model=True),
    Setting("cell", "lstm", "recurrent cell", "model", choices=CELLS, model=True),
    Setting("grad_clipping", 5.0,
            "per-step clipping of the gate pre-activations' gradients, Lasagne's "
            "grad_clipping; 0 disables", "model", parse=non_negative_float,
            metavar="X", model=True),
    Setting("dropout", 0.0, "dropout between layers and before the output", "model",
            parse=probability, metavar="P", model=True),
    Setting("tie_embeddings", False,
            "share the input embedding with the output layer (needs --embedding "
            "equal to --hidden)", "model", parse=bool, model=True),
    Setting("bidirectional", False, "classifier reads both directions", "model",
            parse=bool, model=True),
    Setting("init_range", None, "initialise every weight uniformly in ±R", "model",
            parse=positive_float, metavar="R", model=True,
            default_text="each layer's own initializers"),
    # -- training ------------------------------------------------------------
    Setting("preset", None, _preset_help(), "training", choices=tuple(PRESETS),
            metavar="NAME", in_config=False, default_text="none"),
    Setting("mode", "masked",
            "masked minibatches or gradient accumulation", "training", choices=MODES),
    Setting("accumulate", None, "accumulation window N in sequences", "training",
            parse=positive_int, metavar="N", default_text="--batch-size"),
    Setting("micro_batch", 1,
            "sequences per compute-grad call in accumulation mode; 1 means single "
            "unpadded sequences without a mask", "training", parse=positive_int,
            metavar="N"),
    Setting("num_steps", 35,
            "with --task stream: unrolled steps per window (truncated "
            "backpropagation through time)", "training", parse=positive_int, metavar="N"),
    Setting("weighting", "tokens",
            "weight every real token equally (tokens) or every sequence (sequences)",
            "training", choices=WEIGHTINGS),
    Setting("optimizer", "adam", "update rule", "training", choices=OPTIMIZER_NAMES,
            metavar="NAME"),
    Setting("learning_rate", None, "learning rate", "training", parse=positive_float,
            metavar="X", default_text="the update rule's usual one"),
    Setting("max_grad_norm", None, "rescale the gradient to at most this global norm",
            "training", parse=positive_float, metavar="X", default_text="no rescaling"),
    Setting("lr_schedule", "constant",
            "learning-rate schedule: constant; decay: multiply by --lr-decay after "
            "every epoch from --lr-decay-start on; plateau: multiply by --lr-decay "
            "after --patience epochs without improvement", "training",
            choices=SCHEDULES, resumable=True),
    Setting("lr_decay", 0.5, "factor of the decay and plateau schedules", "training",
            parse=positive_float, metavar="X", resumable=True),
    Setting("lr_decay_start", 4,
            "first epoch (1-based) after which 'decay' applies; the last one at "
            "the full rate", "training", parse=positive_int, metavar="N", resumable=True),
    Setting("patience", 1, "epochs without improvement before 'plateau' decays",
            "training", parse=positive_int, metavar="N", resumable=True),
    Setting("epochs", 1, "epochs to train (in all, counting those of a resumed run)",
            "training", parse=positive_int, metavar="N", resumable=True),
    Setting("max_steps", None, "stop after this many updates in total", "training",
            parse=positive_int, metavar="N", resumable=True, default_text="no limit"),
    Setting("backend", backends.DEFAULT_BACKEND,
            "PyTensor backend; jax is the fastest measured on the CPU and runs on "
            "GPUs, fast_compile is for tests", "training", choices=backends.BACKENDS,
            resumable=True),
    Setting("float_type", "float32", "float type of the computation", "training",
            choices=FLOAT_TYPES, option="--float"),
    Setting("distributed", "none",
            "mpi: share every update among the processes of an MPI job "
            "(mpiexec -n K lasagne-lstm train ... --distributed mpi; needs pip "
            "install -e '.[mpi]'); the result does not depend on K",
            "training", choices=DISTRIBUTED, in_config=False, resumable=True),
    Setting("check_every", 100,
            "with --distributed mpi, compare a checksum of the parameters across "
            "ranks every N updates; a mismatch stops every rank", "training",
            parse=positive_int, metavar="N", resumable=True),
    # -- output --------------------------------------------------------------
    Setting("checkpoint", None,
            "write the run's state here (end of training, every epoch, and every "
            "--save-every updates); an existing file is kept unless --overwrite, "
            "and PATH.lock keeps a second run from writing it at the same time",
            "output", metavar="PATH", in_config=False,
            resumable=True, default_text="none; with --resume, the resumed file"),
    Setting("overwrite", False,
            "let a new run replace an existing --checkpoint file (a resumed run "
            "always goes on writing its own)", "output", parse=bool, in_config=False,
            resumable=True),
    Setting("save_every", None, "also save every N updates", "output",
            parse=positive_int, metavar="N", resumable=True, default_text="never"),
    Setting("resume", None, "continue from this checkpoint exactly where it stopped",
            "output", metavar="PATH", in_config=False),
    Setting("log", None, "append a JSON line per update and per epoch to this file",
            "output", metavar="PATH", in_config=False, resumable=True),
    Setting("quiet", False, "no progress bars", "output", parse=bool, in_config=False,
            resumable=True),
)


def _flag_words(settings):
    """``["--hidden 200", "--no-tie-embeddings", ...]`` for a dict of settings."""
    words = []
    for name, value in settings.items():
        setting = BY_NAME[name]
        if setting.is_switch:
            words.append(setting.flag if value else "--no-" + setting.flag[len("--"):])
        else:
            words.append("%s %s" % (setting.flag, format_value(setting, value)))
    return words


def _fill_words(words, width, first_prefix, indent):
    """Lines of ``words`` (never broken inside one) at most ``width`` wide
    where possible, the first after ``first_prefix``, the others indented."""
    lines, line, line_words = [], first_prefix, 0
    for word in words:
        if line_words and len(line) + 1 + len(word) > width:
            lines.append(line)
            line, line_words = indent, 0
        line += (" " if line_words else "") + word
        line_words += 1
    return lines + [line]


def _preset_table(width):
    """Each preset's flags, for the epilog of ``train --help``."""
    common = _ZAREMBA_ALL
    rows = [("all of them", _flag_words(common) + ["(--embedding", "equal", "to",
                                                    "--hidden)"])]
    for name, settings in PRESETS.items():
        own = {k: v for k, v in settings.items() if k not in common or common[k] != v}
        valid, test = PRESET_PAPER_PERPLEXITIES[name]
        rows.append((name, _flag_words(own) + (
            "(the paper's PTB perplexity: valid %.1f, test %.1f)" % (valid, test)).split()))
    indent = " " * (2 + max(len(name) for name, _ in rows) + 2)
    lines = []
    for name, words in rows:
        lines += _fill_words(words, width, ("  " + name).ljust(len(indent)), indent)
    return "\n".join(lines)


#: The settings by name.
BY_NAME = {setting.name: setting for setting in SETTINGS}

#: Every setting of a run's configuration dict and its default. The defaults
#: train a word-level Shakespeare language model in a few minutes on two CPU
#: cores.
DEFAULTS = {s.name: s.default for s in SETTINGS if s.in_config}
#: The settings the model builder takes (with the vocabulary and label counts).
MODEL_KEYS = tuple(s.name for s in SETTINGS if s.model)
#: The settings ``--resume`` may change; every other one keeps the checkpoint's value.
RESUMABLE = tuple(s.name for s in SETTINGS if s.resumable)
#: The settings ``lasagne-lstm data stats`` shares with ``train``.
DATA_STATS_SETTINGS = tuple(s for s in SETTINGS if s.data_stats)


# -- command lines ------------------------------------------------------------
def add_argument(container, setting, required=False):
    """Add ``setting``'s flag (or positional) to a parser or argument group.

    The flag's default is None, so that a parsed namespace shows which
    settings were given (see :func:`given_settings`); the real default is
    stated in its help.

    Parameters
    ----------
    container : argparse.ArgumentParser or argument group
    setting : Setting
    required : bool
        For a positional: whether it must be given (then no default is shown).
    """
    help_text = setting.help_text(show_default=not required).replace("%", "%%")
    if setting.positional:
        container.add_argument(setting.name, nargs=None if required else "?",
                               default=None, metavar=setting.flag, help=help_text)
        return
    if setting.is_switch:
        container.add_argument(setting.flag, dest=setting.name, default=None,
                               action=argparse.BooleanOptionalAction, help=help_text)
        return
    valued = dict(dest=setting.name, default=None, type=setting.parse,
                  choices=setting.choices, metavar=setting.metavar)
    container.add_argument(setting.flag, help=help_text, **valued)
    for alias in setting.aliases:
        container.add_argument(alias, help=argparse.SUPPRESS, **valued)


def add_arguments(parser, settings=SETTINGS, required=()):
    """Add the flags of ``settings`` to ``parser``, one argument group per
    :data:`GROUPS` entry that has any.

    Parameters
    ----------
    parser : argparse.ArgumentParser
    settings : sequence of Setting
    required : container of str
        Names of positionals that must be given.
    """
    for group_name, description in GROUPS.items():
        members = [s for s in settings if s.group == group_name]
        if members:
            group = parser.add_argument_group(group_name, description)
            for setting in members:
                add_argument(group, setting, required=setting.name in required)


def train_epilog(width=79):
    """The end of ``train --help``: what ``--resume`` may change, and the presets."""
    flags = ", ".join(BY_NAME[name].flag for name in RESUMABLE)
    resume = textwrap.fill(
        "--resume: every setting keeps the checkpoint's value, and only these may "
        "change: %s. Giving any other flag a value different from the "
        "checkpoint's is an error." % flags, width, break_on_hyphens=False)
    presets = textwrap.fill(
        "--preset NAME: the preset's values replace the defaults, and flags given "
        "override them. The presets are the recipes of Zaremba, Sutskever & Vinyals "
        "(2014), 'Recurrent Neural Network Regularization', for word-level Penn "
        "Treebank (one token stream, state carried between windows of --num-steps, "
        "lr 1 for --lr-decay-start epochs, then times --lr-decay after each):", width,
        break_on_hyphens=False)
    return "\n\n".join((resume, presets, _preset_table(width)))


def given_settings(namespace, settings=SETTINGS):
    """The run settings a parsed command line gave explicitly.

    Parameters
    ----------
    namespace : argparse.Namespace
        Parsed by a parser built with :func:`add_arguments`.
    settings : sequence of Setting
        The settings that parser had.

    Returns
    -------
    dict
        name -> value for every setting of the run's configuration
        (``in_config``) that was given; command-line-only ones such as
        ``--resume`` or ``--preset`` are left out.
    """
    return {s.name: getattr(namespace, s.name) for s in settings
            if s.in_config and getattr(namespace, s.name, None) is not None}


def apply_preset(name, explicit_settings):
    """Settings of preset ``name``, overridden by ``explicit_settings``.

    Parameters
    ----------
    name : str
        A key of :data:`PRESETS`.
    explicit_settings : dict
        Settings given explicitly; they win over the preset's.

    Returns
    -------
    dict
        A new dict: the preset's settings updated with ``explicit_settings``.

    Raises
    ------
    SettingsError
        For an unknown preset name (a ValueError).
    """
    if name not in PRESETS:
        raise SettingsError("unknown preset %r: known presets are %s"
                            % (name, ", ".join(PRESETS)))
    return dict(PRESETS[name], **explicit_settings)


def resolve(settings):
    """A full configuration: :data:`DEFAULTS` updated with ``settings``."""
    unknown = set(settings) - set(DEFAULTS)
    if unknown:
        raise SettingsError("unknown setting(s) %s" % ", ".join(sorted(unknown)))
    return dict(DEFAULTS, **settings)


def resume_conflicts(requested, saved_config):
    """The requested settings a resumed run cannot take.

    Parameters
    ----------
    requested : dict
        Settings given for the resumed run (explicitly or by a preset).
    saved_config : dict
        The checkpoint's configuration (``meta['config']``); settings it lacks
        (from an older version) count as their defaults.

    Returns
    -------
    list of (Setting, requested value, checkpoint's value)
        One entry per setting that is not resumable and whose requested
        value differs from the checkpoint's, in definition order.
    """
    saved = dict(DEFAULTS, **saved_config)
    conflicts = []
    for setting in SETTINGS:
        if setting.name not in requested or setting.resumable:
            continue
        wanted, had = requested[setting.name], saved.get(setting.name)
        same = (_same_corpus(wanted, had) if setting.name == "corpus"
                else wanted == had)
        if not same:
            conflicts.append((setting, wanted, had))
    return conflicts


def describe_conflicts(conflicts):
    """One line naming each conflict of :func:`resume_conflicts`."""
    return ", ".join("%s %s (the checkpoint's: %s)" % (
        setting.flag, format_value(setting, wanted, exact=True),
        format_value(setting, had, exact=True))
        for setting, wanted, had in conflicts)
