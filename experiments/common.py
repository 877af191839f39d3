"""Small helpers shared by the experiment scripts (not part of the library):
collecting the engine's JSON-lines log in memory, Markdown tables, CSV files,
peak memory and the matplotlib set-up."""
import csv
import json
import os
import platform
import resource
import sys
import time


class LogCollector:
    """A file-like ``log`` for :class:`lasagne_lstm.training.engine.Run` that keeps every
    JSON record in memory (``records``)."""

    def __init__(self):
        self.records = []

    def write(self, text):
        for line in text.splitlines():
            if line.strip():
                self.records.append(json.loads(line))

    def flush(self):
        pass

    def updates(self):
        return [r for r in self.records if r.get("event") == "update"]

    def epochs(self):
        return [r for r in self.records if r.get("event") == "epoch"]


def update_seconds(record):
    """Seconds one update took (the engine logs ``tokens / seconds``)."""
    return record["tokens"] / max(record["tokens_per_s"], 1e-12)


def peak_rss_mb():
    """This process's peak resident memory in MiB (Linux reports KiB)."""
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib / 1024.0 if sys.platform != "darwin" else kib / 2.0 ** 20


def write_csv(path, rows, fields=None):
    fields = fields or list(rows[0].keys())
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        for row in rows:
            w.writerow(row)


def fmt(value, digits=3):
    if value is None:
        return "–"
    if isinstance(value, float):
        if value != 0 and (abs(value) < 10 ** -digits or abs(value) >= 1e6):
            return "%.2e" % value
        return ("%." + str(digits) + "f") % value
    return str(value)


def markdown_table(header, rows):
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---" for _ in header) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(fmt(v) if not isinstance(v, str) else v
                                        for v in row) + " |")
    return "\n".join(lines)


def pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def machine_line():
    """One line describing where the figures were taken."""
    cpus = os.cpu_count()
    try:
        load = "%.1f" % os.getloadavg()[0]
    except OSError:
        load = "?"
    return ("%s, %s CPU cores visible (shared with other jobs; 1-min load average %s at "
            "the start), Python %s, %s" % (platform.platform(), cpus, load,
                                           platform.python_version(),
                                           time.strftime("%Y-%m-%d %H:%M UTC",
                                                         time.gmtime())))


def finish_sizes_and_configs(parser, args, quick, full, configs):
    """Fill unset size options from the ``--quick`` or full presets and check
    ``--configs`` (a comma-separated list of names from ``configs``)."""
    for key, value in (quick if args.quick else full).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.config_names = [c.strip() for c in args.configs.split(",") if c.strip()]
    unknown = [c for c in args.config_names if c not in configs]
    if unknown:
        parser.error("unknown configuration(s) %s; known: %s"
                     % (", ".join(unknown), ", ".join(configs)))
    return args
