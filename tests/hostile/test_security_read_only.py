"""Read-only mode (`--read-only`, or `read_only = true` in the config file): no command can submit,
cancel, restart, resume or change a job by hand. Each such command stops with one line (exit 2)
before it opens anything; dry runs and the read commands still work; `sync` becomes a dry run and
`attach --no-tui` follows what others record, polling nothing. The database is left byte for byte
as it was, and the same commands without the mode do change it (so the test can fail).

The app's keys in read-only mode are tested in tests/tui/test_app_pilot.py."""

from __future__ import annotations

import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fault_harness import Deck, one_error_line, popen, record, shown, store_dump

REFUSED = [
    ("submit", ["submit", "{manifest}", "--no-tui"]),
    ("submit-pending", ["submit-pending", "--session", "ro"]),
    ("cancel", ["cancel", "--session", "ro", "sleeper"]),
    ("resume", ["resume", "--session", "ro", "sweep"]),
    ("restart", ["restart", "--session", "ro", "bad"]),
    ("mark-failed", ["mark-failed", "--session", "ro", "sleeper", "--reason", "test"]),
    ("track", ["track", "ro", "--submit"]),
    ("validate", ["validate", "--session", "ro", "ok", "--force"]),
    ("demo", ["demo", "--no-tui", "--folder", "{folder}/demo"]),
]
ALLOWED = [
    ["restart", "--session", "ro", "bad", "--dry-run"],
    ["resume", "--session", "ro", "sweep", "--dry-run"],
    ["cancel", "--session", "ro", "sleeper", "--dry-run"],
    ["submit", "{manifest}", "--dry-run"],
    ["list"],
    ["sessions"],
    ["status", "ro/bad"],
]


@pytest.fixture
def session(deck: Deck) -> tuple[Deck, Path]:
    """Session "ro" of real local processes: ok SUCCEEDED, bad FAILED, sweep PARTIAL, sleeper RUNNING."""
    jobs = [
        {"name": "ok", "script": "behave.sh"},
        {"name": "bad", "script": "behave.sh", "args": ["--code", "3"]},
        {"name": "sleeper", "script": "behave.sh", "args": ["--sleep", "60"]},
        {"name": "sweep", "script": "behave.sh", "array": "0-2", "args": ["--task", "{task}", "--fail-tasks", "1"],
         "outputs": ["out/{task}.txt"]},
    ]  # fmt: skip
    manifest = deck.manifest({"name": "ro", "validate_grace": 0}, {"here": {"backend": "local"}}, jobs)
    deck.json("submit", str(manifest), "--no-tui")
    wanted = {"ok": "SUCCEEDED", "bad": "FAILED", "sleeper": "RUNNING", "sweep": "PARTIAL"}
    deck.sync_until("ro", lambda jobs: _whole(jobs) == wanted, 30, "the session's states")
    return deck, manifest


def _whole(jobs: dict) -> dict[str, str]:
    states: dict[str, set[str]] = {}
    for (name, _), job in jobs.items():
        states.setdefault(name, set()).add(job["state"])
    return {
        name: "PARTIAL" if seen == {"SUCCEEDED", "FAILED"} else seen.pop() for name, seen in states.items()
    }


def words(command: list[str], manifest: Path, folder: Path) -> list[str]:
    return [w.format(manifest=manifest, folder=folder) for w in command]


@pytest.mark.parametrize("how", ["flag", "config"])
def test_every_mutating_command_is_refused_in_one_line_and_nothing_changes(
    session: tuple[Deck, Path], tmp_path: Path, how: str
) -> None:
    deck, manifest = session
    config = tmp_path / "config.toml"
    config.write_text("read_only = true\n")
    mode = ["--read-only"] if how == "flag" else []
    deck.env["JOBDECK_CONFIG"] = str(config if how == "config" else tmp_path / "none.toml")
    before = store_dump(deck.db)

    def run(command: list[str]) -> subprocess.CompletedProcess[str]:
        return deck.run(*mode, *words(command, manifest, tmp_path))

    with ThreadPoolExecutor(4) as pool:
        refused = list(pool.map(run, [command for _, command in REFUSED]))
        allowed = list(pool.map(run, ALLOWED))
    sync = run(["sync", "--session", "ro", "--json"])
    follow = popen(deck, *mode, "attach", "ro", "--no-tui")
    assert follow.stdout is not None
    followed = follow.stdout.readline()  # its first line; the test's timeout bounds the wait
    time.sleep(2)  # it goes on following: nothing it does meanwhile may change the store
    follow.kill()
    followed += follow.communicate()[0]
    after = store_dump(deck.db)
    record(f"read-only mode ({how})", bad_inputs=len(REFUSED))
    source = "--read-only" if how == "flag" else f"read_only = true in {config}"
    for (what, _), result in zip(REFUSED, refused, strict=True):
        assert result.returncode == 2 and result.stdout == "", shown(result)
        line = one_error_line(result.stderr)
        assert line.startswith(f"jobdeck: error: read-only mode ({source}): {what}"), line
        assert line.endswith(" is disabled"), line
    for result in allowed:
        assert result.returncode == 0, shown(result)
    assert sync.returncode == 0 and '"dry_run": true' in sync.stdout, shown(sync)
    assert "read-only: following ro" in followed, followed
    assert after == before, "read-only mode changed the database"
    assert not (tmp_path / "demo").exists()


def test_without_the_mode_the_same_commands_act(session: tuple[Deck, Path]) -> None:
    deck, _ = session
    before = store_dump(deck.db)
    restart = deck.run("restart", "--session", "ro", "bad")
    cancel = deck.run("cancel", "--session", "ro", "sleeper")
    assert restart.returncode == 0 and "submitted as job" in restart.stdout, shown(restart)
    assert cancel.returncode == 0, shown(cancel)
    assert store_dump(deck.db) != before
