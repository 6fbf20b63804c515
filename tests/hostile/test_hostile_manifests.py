"""Bad manifests given to `jobdeck submit`: each exits 2 with exactly one line that names the file
and then the field, and the database is not changed by any of them.

The table is the one the manifest loader's own tests check message by message
(tests/monitor/test_manifest.py: wrong types, missing fields, unknown keys, duplicate names, bad
array ranges, unknown placeholders, ...), run here through the command line, plus what only files
on a disk can be: too large, not UTF-8, UTF-16, NUL bytes, YAML alias bombs, JSON nested beyond
reason, a FIFO, a device, a directory, a name with terminal escapes. The whole table runs in this
process through click (fast); a sample runs as the real console script."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from click.testing import CliRunner
from fault_harness import TESTS, Deck, load_module, one_error_line, record, shown, store_dump

from monitor.manifest import MAX_BYTES
from tui.cli import main

loader_tests = load_module(TESTS / "monitor" / "test_manifest.py", "jobdeck_manifest_table")
HEAD, JOB = loader_tests.HEAD, loader_tests.JOB


def alias_bomb(where: str) -> str:
    """YAML whose one alias stands for 9**9 strings if anything expands it."""
    lines = ['x-a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"x-a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    return "\n".join(lines) + f"\nsession: {{name: s}}\njobs:\n  - {{name: a, script: x.sh, {where}: *a8}}\n"


def sparse(size: int) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        with path.open("wb") as handle:
            handle.truncate(size)

    return make


# (file name, content or a function that makes the file, what the line must hold after the path)
ON_DISK: list[tuple[str, str | bytes | Callable[[Path], None], str]] = [
    ("huge.toml", sparse(MAX_BYTES + 1), "larger than 10 MB"),
    ("utf16.toml", (HEAD + JOB).encode("utf-16"), "not valid UTF-8"),
    ("latin1.toml", HEAD.replace('"s"', '"caf\xe9"').encode("latin-1") + JOB.encode(), "not valid UTF-8"),
    ("nul.toml", (HEAD + JOB).encode().replace(b"script", b"scr\0ipt"), "invalid TOML"),
    ("bomb-args.yaml", alias_bomb("args"), 'jobs[1] "a": args'),
    ("bomb-outputs.yaml", alias_bomb("outputs"), 'jobs[1] "a": outputs'),
    ("bomb-sbatch.yaml", alias_bomb("sbatch"), 'jobs[1] "a": sbatch'),
    ("deep.json", "[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ("deep.yaml", "a: " + "[" * 5_000 + "]" * 5_000 + "\n", "invalid YAML"),
    ("fifo.toml", lambda path: os.mkfifo(path), "not a regular file"),
    ("dir.toml", lambda path: path.mkdir(), "is a directory"),
    ("e\x1b]0;pwned\x07\x1b[2J.toml", "[session]\n", "session.name: field required"),
    ("absent.toml", lambda path: None, "no such file"),
]


def bad_manifests(folder: Path) -> list[tuple[Path, str]]:
    """Every bad manifest written into `folder` (one subfolder each), with what its line must say."""
    made = []
    table = [(name, text, f": {message}") for name, text, message in loader_tests.ERRORS]
    for number, (name, content, expected) in enumerate([*table, *ON_DISK]):
        place = folder / f"{number:03}"
        place.mkdir(parents=True)
        path = place / name
        if callable(content):
            content(path)
        else:
            path.write_bytes(content.encode() if isinstance(content, str) else content)
        made.append((path, expected))
    return made


def escaped(path: Path) -> str:
    """A path as the one error line shows it: control characters written as \\uXXXX."""
    return "".join(f"\\u{ord(c):04x}" if ord(c) < 32 or ord(c) == 127 else c for c in str(path))


@pytest.fixture
def stored(deck: Deck) -> Deck:
    """A database that holds a session "s" (the name every bad manifest uses) of one job that ran."""
    good = deck.manifest(
        {"name": "s"}, {"here": {"backend": "local"}}, [{"name": "a", "script": "behave.sh"}]
    )
    deck.json("submit", str(good), "--no-tui")
    deck.json("sync")
    return deck


def test_every_bad_manifest_exits_2_in_one_line_naming_file_and_field(stored: Deck, tmp_path: Path) -> None:
    cases = bad_manifests(tmp_path / "bad")
    before = store_dump(stored.db)
    runner = CliRunner(env={"JOBDECK_CONFIG": str(tmp_path / "none.toml"), "JOBDECK_DB": None})
    problems = []
    for path, expected in cases:
        result = runner.invoke(main, ["--db", str(stored.db), "submit", str(path), "--no-tui"])
        lines = result.stderr.splitlines()
        line = lines[0] if lines else ""
        if result.exit_code != 2 or len(lines) != 1 or result.stdout:
            problems.append(
                f"{path.name!r}: exit {result.exit_code}, stderr {result.stderr!r} {result.exception!r}"
            )
        elif not line.startswith(f"jobdeck: error: {escaped(path)}: ") or expected not in line:
            problems.append(f"{path.name!r}: {line!r} does not name the file, then {expected!r}")
        elif "\x1b" in line or "\x07" in line:
            problems.append(f"{path.name!r}: a terminal escape reached the screen: {line!r}")
    after = store_dump(stored.db)
    record("bad manifests through the CLI", bad_inputs=len(cases))
    assert len(cases) >= 30
    assert not problems, "\n".join(problems)
    assert after == before, "a bad manifest changed the database"


def test_a_sample_through_the_real_console_script(stored: Deck, tmp_path: Path) -> None:
    cases = bad_manifests(tmp_path / "bad")
    sample = [cases[i] for i in (0, 2, 11, 15, 17, 30)] + cases[-len(ON_DISK) :]
    before = store_dump(stored.db)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda case: stored.run("submit", str(case[0]), "--no-tui"), sample))
    record("bad manifests through the console script", bad_inputs=len(sample))
    for (path, expected), result in zip(sample, results, strict=True):
        assert result.returncode == 2, shown(result)
        line = one_error_line(result.stderr)
        assert line.startswith(f"jobdeck: error: {escaped(path)}: ") and expected in line, line
    assert store_dump(stored.db) == before
