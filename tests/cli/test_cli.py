"""The `amass-fast` command line as a user meets it: every subcommand's --help explains itself with examples,
and flags that mean the same thing are spelled the same way."""
from __future__ import annotations

import re

import pytest

from amass_fast import cli

COMMANDS = [name for name, _, _ in cli.COMMANDS]


def help_text(command: str, capsys) -> str:
    with pytest.raises(SystemExit) as stop:
        cli.main([command, "--help"])
    assert stop.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_help_ends_with_runnable_examples(command, capsys):
    text = help_text(command, capsys)
    assert "examples:" in text
    examples = text.split("examples:\n", 1)[1].splitlines()
    assert examples and all(line.startswith("  ") for line in examples if line)
    # Every flag an example uses is one the command defines.
    defined = set(re.findall(r"(?<![\w-])(--[a-z][\w-]*)", text.split("examples:", 1)[0]))
    for line in examples:
        for flag in re.findall(r"(?<![\w-])(--[a-z][\w-]*)", line.split("#")[0]):
            assert flag in defined, f"{command}: example uses {flag}, which --help does not list"


def test_module_epilog_is_kept_wrapped_above_the_examples(capsys):
    text = help_text("download", capsys)
    credentials, examples = text.split("examples:", 1)
    assert "AMASS_USERNAME/AMASS_PASSWORD" in credentials and "amass-fast download --datasets" in examples
    assert max(len(line) for line in credentials.split("\n\n")[-2].splitlines()) <= 78


@pytest.mark.parametrize("command, flag, metavar", [
    ("download", "--out", "DIR"), ("extract", "--out", "DIR"), ("demo", "--out", "DIR"),
    ("download", "--jobs", "N"), ("extract", "--jobs", "N"), ("labels", "--amass-root", "DIR"),
])
def test_shared_flags_read_the_same(command, flag, metavar, capsys):
    assert re.search(rf"{flag} {metavar}\b", help_text(command, capsys))


def test_labels_defaults_to_the_same_root_as_process(capsys):
    assert "(default data/amass)" in help_text("labels", capsys)


def test_a_reader_that_goes_away_ends_the_command_quietly():
    """`amass-fast datasets | head -1`: the reader closes the pipe; no traceback, exit status 141 as for SIGPIPE."""
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "amass_fast", "datasets"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.close()  # before the command prints anything
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141, err
    assert "Traceback" not in err and "BrokenPipeError" not in err
