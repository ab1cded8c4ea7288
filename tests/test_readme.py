"""The README's commands are valid as written: every `python main.py ...` line of its shell blocks
parses (flags, config file, override names and value types) with main.py's own parser, and (marked
slow: `pytest -m slow tests/test_readme.py`) its python blocks run and print what they compute."""

import os
import re
import shlex

import pytest

import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _shell_commands():
    with open(os.path.join(ROOT, "README.md")) as f:
        text = f.read()
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        joined = re.sub(r"\\\n\s*", " ", block)  # continuation lines
        for line in joined.splitlines():
            line = line.split("  #")[0].strip()
            if "main.py" in line:
                commands.append(line)
    return commands


COMMANDS = _shell_commands()


def test_the_readme_has_commands():
    assert len(COMMANDS) >= 10


@pytest.mark.parametrize("command", COMMANDS)
def test_readme_command_parses(command, monkeypatch):
    monkeypatch.chdir(ROOT)
    argv = shlex.split(command)
    argv = argv[argv.index("main.py"):]
    if "configs/vp/cifar10_ddpmpp_continuous.py" in command or "/path/to/" in command:
        argv = [a for a in argv if "data_dir=" not in a]  # the user's data
    config = main._parse(argv)
    assert main.FLAGS.mode in main.MODES
    if main.FLAGS.mode in main.STANDALONE:  # no config, no workdir
        assert config is None and not main.FLAGS.workdir
    else:
        assert main.FLAGS.workdir and config.training.n_iters >= 1


def _python_blocks():
    with open(os.path.join(ROOT, "README.md")) as f:
        return re.findall(r"```python\n(.*?)```", f.read(), re.S)


@pytest.mark.slow  # ~30 s of CPU (2 min wall on the shared 2-core machine): PC at N=1000, a grid fit
@pytest.mark.parametrize("index", range(len(_python_blocks())))
def test_readme_python_block_runs_and_prints(index, tmp_path):
    """Each python block runs as written (a fresh process, in an empty folder: what it writes stays
    there) and prints."""
    import subprocess
    import sys

    script = tmp_path / "block.py"
    script.write_text(_python_blocks()[index])
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": ROOT, "JAX_PLATFORMS": "cpu"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip(), "the block prints nothing"
    print(proc.stdout)
