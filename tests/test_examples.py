"""The Lasagne-era scripts in examples/, run as a user runs them (a separate
process, the project's default backend, tiny sizes): they use only the three
import lines of a port, and they learn."""
import pathlib
import re
import subprocess
import sys

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"
PORT_IMPORTS = {"import lasagne_lstm as lasagne", "import lasagne_lstm.theano as theano",
                "import lasagne_lstm.theano.tensor as T"}


def _run(script, *argv):
    done = subprocess.run([sys.executable, str(EXAMPLES / script)] + list(argv),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _imports(script):
    lines = (EXAMPLES / script).read_text().splitlines()
    return {line.split("#")[0].strip() for line in lines
            if line.startswith(("import ", "from "))}


def test_examples_import_only_the_port_lines():
    for script in ("char_rnn.py", "gradient_averaging.py"):
        lasagne_lines = {line for line in _imports(script) if "lasagne" in line}
        assert lasagne_lines == PORT_IMPORTS, script


def test_char_rnn_learns():
    out = _run("char_rnn.py", "--iterations", "60", "--hidden", "24",
               "--batch-size", "16", "--print-freq", "30")
    final, initial = map(float, re.search(r"final cost ([\d.]+) \(initial ([\d.]+)\)",
                                          out).groups())
    # 26 distinct characters: a uniform guess costs log(26) = 3.26 per character
    assert abs(initial - 3.26) < 0.3
    assert final < 0.8 * initial, out


def test_gradient_averaging_equals_a_masked_step_and_learns():
    out = _run("gradient_averaging.py", "--updates", "100", "--window", "16")
    difference, moved = map(float, re.search(
        r"difference from one masked step ([\d.e+-]+) \(the update moved weights by "
        r"up to ([\d.e+-]+)\)", out).groups())
    assert moved > 1e-3 and difference < 1e-9 * max(moved, 1.0), out
    accuracy = float(re.search(r"accuracy on 200 new sequences: ([\d.]+)", out).group(1))
    assert accuracy > 0.85, out  # about half the sequences contain a 7
