"""`jobdeck queue` and `jobdeck list --since` given bad input or nothing to list: one line naming
what is wrong, exit 2; `list --since` keeps what is still going and the recent history."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from tests.integration.conftest import Deck, shown


@pytest.fixture
def bare(deck: Deck, tmp_path: Path) -> Deck:
    """No squeue on PATH, no kubeconfig, the config file of the test's own."""
    (tmp_path / "bin").mkdir()
    deck.env.update(
        {
            "PATH": str(tmp_path / "bin"),  # the console script is run by its absolute path
            "HOME": str(tmp_path / "home"),
            "KUBECONFIG": str(tmp_path / "no-kubeconfig"),
            "JOBDECK_CONFIG": str(tmp_path / "config.toml"),
        }
    )
    return deck


def one_error(result_stderr: str) -> str:
    lines = result_stderr.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_with_nothing_to_list_queue_says_what_to_configure(bare: Deck, tmp_path: Path) -> None:
    result = bare.run("queue", "--json")
    assert result.returncode == 2, shown(result)
    line = one_error(result.stderr)
    assert "no cluster to list" in line and str(tmp_path / "config.toml") in line


def test_a_bad_config_table_stops_queue_with_the_file_and_field(bare: Deck, tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[clusters.lab]\nbackend = "slurm"\nhots = "x"\n', encoding="utf-8")
    result = bare.run("queue")
    assert result.returncode == 2, shown(result)
    assert (
        one_error(result.stderr)
        == f"jobdeck: error: {tmp_path / 'config.toml'}: clusters.lab.hots: unknown key"
    )


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("--since", "0"), "--since: must be a positive number of hours, got 0"),
        (("--since", "-3"), "--since: must be a positive number of hours, got -3"),
        (("--cluster", "nope"), "--cluster: unknown cluster 'nope' (known: lab)"),
    ],
)
def test_bad_queue_options_are_one_line(bare: Deck, tmp_path: Path, args: tuple[str, ...], said: str) -> None:
    (tmp_path / "config.toml").write_text('[clusters.lab]\nbackend = "slurm"\n', encoding="utf-8")
    result = bare.run("queue", *args)
    assert result.returncode == 2, shown(result)
    assert one_error(result.stderr) == f"jobdeck: error: {said}"


def test_list_since_keeps_jobs_still_going_and_those_finished_lately(deck: Deck) -> None:
    manifest = deck.manifest(
        {"name": "s"},
        {"c": {"backend": "local", "workdir": str(deck.workdir)}},
        [{"name": "old", "script": "behave.sh"}, {"name": "new", "script": "behave.sh"}],
    )
    submitted = deck.run("submit", str(manifest), "--no-tui")
    assert submitted.returncode == 0, shown(submitted)
    deck.sync_until("s", None, 60, "both jobs settled")
    with sqlite3.connect(deck.db) as db:  # as if `old` had finished two days ago
        db.execute("UPDATE jobs SET updated_at = ? WHERE name = 'old'", (time.time() - 2 * 86_400,))
    names = lambda *args: {row["name"] for row in deck.json("list", *args)}  # noqa: E731
    assert names() == {"old", "new"}
    assert names("--since", "24") == {"new"}
    assert names("--since", "72") == {"old", "new"}
    result = deck.run("list", "--since", "0")
    assert result.returncode == 2 and "--since: must be a positive number of hours" in result.stderr
