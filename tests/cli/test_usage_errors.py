"""Usage mistakes (a bad choice, a missing argument, a bad number, an unknown option) are one line naming
the command, exit code 2, never typer's boxed usage text; every option of every command has help."""

from __future__ import annotations

import pytest
import typer

from nanocell_daq.cli import app, main


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["export", "1", "--format", "xyz"], "nanocell export: invalid value for '--format' / '-f': 'xyz' is "
                                             "not one of 'csv', 'hdf5'"),
        (["control", "1", "pasue"], "nanocell control: invalid value for 'action': 'pasue' is not one of "
                                    "'pause', 'resume', 'abort'"),
        (["control"], "nanocell control: missing argument 'run_id'"),
        (["resume", "abc"], "nanocell resume: invalid value for 'run_id': not an integer"),
        (["demo", "--speed", "fast"], "nanocell demo: invalid value for '--speed': not a number"),
        (["runs", "--bogus"], "nanocell runs: no such option: --bogus"),
        (["sim", "reset"], "nanocell sim reset: missing option '--station'"),
    ],
)
def test_a_usage_error_is_one_line_with_exit_code_2(capsys, argv, said):
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1, captured.err
    assert captured.err.startswith(f"error: {said}"), captured.err
    assert f"(see `nanocell {argv[0]}" in captured.err
    assert not any(box in captured.err for box in "╭│╰"), captured.err


def test_help_and_no_arguments_still_show_the_help(capsys):
    assert main(["sim", "--help"]) == 0
    assert "reset" in capsys.readouterr().out
    assert main([]) == 2  # no command: the help, as click does
    assert "Usage: nanocell" in " ".join(capsys.readouterr().out.split())


def _commands(command, path=()):
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, (*path, name))


def test_every_command_option_and_argument_has_help():
    commands = list(_commands(typer.main.get_command(app)))
    assert len(commands) > 40  # the whole tree was walked (sub-commands of sim, queue, protocols, ...)
    missing = [
        f"nanocell {' '.join(path)} {param.opts[0]}"
        for path, command in commands
        for param in command.params
        if not (getattr(param, "help", None) or "").strip()
    ]
    missing += [f"nanocell {' '.join(path)}" for path, cmd in commands if not (cmd.help or "").strip()]
    assert not missing, missing
