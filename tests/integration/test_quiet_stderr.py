"""stderr carries jobdeck's own lines only: no dependency's warning reaches the terminal, whatever
releases are installed (the warning filters of monitor/quiet.py), and jobdeck's own warnings still show.
No cluster needed: the commands run on the local backend."""

from __future__ import annotations

import subprocess
import warnings

import pytest

from monitor.quiet import quiet_dependencies
from tui.cli import main

SESSION = {"name": "quiet"}
LOCAL = {"here": {"backend": "local"}}


def foreign_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    """The stderr lines of a command that jobdeck did not write."""
    return [line for line in result.stderr.splitlines() if not line.startswith("jobdeck")]


def test_every_command_help_prints_nothing_on_stderr(deck) -> None:
    for args in [("--help",), *((name, "--help") for name in sorted(main.commands))]:
        result = deck.run(*args)
        assert result.returncode == 0, (args, result.stderr)
        assert result.stderr == "", (args, result.stderr)


def test_commands_on_a_session_write_only_jobdeck_lines_on_stderr(deck) -> None:
    empty = [deck.run("sessions"), deck.run("list", "--json"), deck.run("status", "nothing", "--json")]
    manifest = str(deck.manifest(SESSION, LOCAL, [{"name": "ok", "script": "behave.sh"}]))
    runs = [
        *empty,
        deck.run("submit", manifest, "--no-tui", "--json"),
        deck.run("sessions", "--json"),
        deck.run("sync", "--session", "quiet"),
        deck.run("list", "--session", "quiet", "--json"),
        deck.run("status", "quiet/ok", "--json"),
        deck.run("restart", "quiet/ok", "--dry-run"),
        deck.run("cancel", "quiet/ok", "--dry-run"),
    ]
    assert runs[2].returncode == 2 and runs[2].stderr.startswith("jobdeck: error: ")
    assert {run.returncode for run in runs[3:5]} == {0}, [run.stderr for run in runs[3:5]]
    assert [(run.args[3:], foreign_lines(run)) for run in runs if foreign_lines(run)] == []


@pytest.mark.parametrize(
    ("category", "module", "shown"),
    [
        (DeprecationWarning, "asyncssh.crypto.misc", False),
        (PendingDeprecationWarning, "kubernetes.client", False),
        (FutureWarning, "textual.widgets", False),
        (UserWarning, "asyncssh.crypto.dsa", False),  # cryptography's CryptographyDeprecationWarning
        (UserWarning, "rich.console", True),  # not a deprecation: a library's warning about our call
        (DeprecationWarning, "monitor.controller", True),
        (FutureWarning, "tui.cli", True),
        (UserWarning, "backends.slurm", True),
    ],
)
def test_filters_hide_dependencies_deprecations_and_keep_jobdecks(category, module, shown) -> None:
    text = "X is deprecated and will be removed" if category is UserWarning and not shown else "notice"
    with warnings.catch_warnings(record=True) as caught:
        warnings.resetwarnings()
        warnings.simplefilter("always")
        quiet_dependencies()
        warnings.warn_explicit(text, category, filename=f"{module}.py", lineno=1, module=module)
    assert len(caught) == int(shown), [str(w.message) for w in caught]
