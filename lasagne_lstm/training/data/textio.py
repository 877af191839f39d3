"""Reading user text safely: clear one-line errors instead of tracebacks."""
import os

__all__ = ["DataError", "read_text", "find_text_files"]


class DataError(ValueError):
    """Bad input data (missing/empty/binary/undecodable file, unknown corpus,
    a failed fetch). The message is one line meant for the user."""


def _looks_binary(data):
    if b"\x00" in data:
        return True
    sample = data[:8192]
    if not sample:
        return False
    control = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13))
    return control > 0.1 * len(sample)


def read_text(path, encoding=None, allow_empty=False):
    """The text of ``path``, decoded as ``encoding`` (default: strict UTF-8,
    a byte-order mark allowed). Raises DataError for a missing, empty, binary
    or undecodable file, naming the file and, for bad bytes, the line.
    With ``allow_empty`` an empty (or all-whitespace) file gives ``""``."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise DataError("%s: no such file or directory" % path)
    if os.path.isdir(path):
        raise DataError("%s is a directory, not a text file" % path)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise DataError("%s: cannot read: %s" % (path, exc.strerror or exc)) from None
    if not data.strip():
        if allow_empty:
            return ""
        raise DataError("%s is empty" % path)
    if _looks_binary(data):
        raise DataError("%s looks like a binary file, not text" % path)
    if encoding is None:
        codec = "utf-8-sig"
    else:
        import codecs
        try:
            codec = codecs.lookup(encoding).name
        except LookupError:
            raise DataError("unknown encoding %r" % encoding) from None
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        if encoding is None:
            raise DataError("%s line %d: bytes are not valid UTF-8 (%r at byte %d); "
                            "pass --encoding (e.g. latin-1) if the file uses another "
                            "encoding" % (path, line, data[exc.start:exc.end], exc.start)) from None
        raise DataError("%s line %d: bytes cannot be decoded as %s (%r at byte %d)"
                        % (path, line, encoding, data[exc.start:exc.end], exc.start)) from None
    if not text.strip():
        if allow_empty:
            return ""
        raise DataError("%s is empty" % path)
    return text


def find_text_files(folder):
    """All ``.txt`` files under ``folder`` (recursively), sorted."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            if name.lower().endswith(".txt"):
                found.append(os.path.join(root, name))
    return found
