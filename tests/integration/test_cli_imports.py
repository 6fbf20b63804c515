"""The command line imports only what a command needs: scripts call `jobdeck status JOB --json` once
per job, so every library a command loads without using it is paid hundreds of times. No cluster
needed: the session runs on the local backend."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.integration.conftest import Deck, shown

# What no headless command on a local session uses: SSH, the app, Kubernetes.
NEVER_HEADLESS = ("asyncssh", "textual", "kubernetes")
# What a command that only reads the store does not use either: the engine, backends, manifests.
NEVER_READING = (*NEVER_HEADLESS, "pydantic", "backends", "monitor.controller", "monitor.manifest")


def imported(deck: Deck, *args: str) -> set[str]:
    """The modules `jobdeck --db DB ARGS` imported, from Python's own import log."""
    entry = "import sys; from tui.entry import main; sys.exit(main())"
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBDECK_")}
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", entry, "--db", str(deck.db), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=deck.folder,
        timeout=60,
    )
    assert result.returncode == 0, shown(result)
    lines = [line.rpartition("|")[2].strip() for line in result.stderr.splitlines() if "|" in line]
    return set(lines[1:])  # the first line is the log's heading


def loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in names))


@pytest.fixture
def local_deck(deck: Deck) -> Deck:
    """A session of one finished local job."""
    manifest = deck.manifest(
        {"name": "s"},
        {"c": {"backend": "local", "workdir": str(deck.workdir)}},
        [{"name": "a", "script": "behave.sh"}],
    )
    result = deck.run("submit", str(manifest), "--no-tui")
    assert result.returncode == 0, shown(result)
    return deck


@pytest.mark.parametrize(
    "args", [("list", "--json"), ("status", "s/a", "--json"), ("sessions", "--json")], ids=" ".join
)
def test_read_commands_import_neither_engine_nor_backends(local_deck: Deck, args: tuple[str, ...]) -> None:
    assert loaded(imported(local_deck, *args), NEVER_READING) == []


def test_a_headless_poll_of_a_local_session_imports_no_ssh_app_or_kubernetes(local_deck: Deck) -> None:
    modules = imported(local_deck, "sync", "--json")
    assert loaded(modules, NEVER_HEADLESS) == []
    assert "backends.local.backend" in modules  # the poll did run
