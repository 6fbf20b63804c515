"""Bad input to the real `jobdeck` command: exit 2, exactly one line on stderr that names the file
and the field, and nothing written. No cluster needed."""

from __future__ import annotations

import pytest

SESSION = {"name": "s"}
LOCAL = {"c": {"backend": "local"}}

BAD_MANIFESTS = {
    # id: (clusters, jobs, where the message must point)
    "missing-field": (LOCAL, [{"name": "a"}], 'jobs[1] "a": script: field required'),
    "wrong-type": (
        LOCAL,
        [{"name": "a", "script": "behave.sh", "args": 3}],
        'jobs[1] "a": args: expected a list',
    ),
    "unknown-backend": (
        {"c": {"backend": "pbs"}},
        [{"name": "a", "script": "behave.sh"}],
        "clusters.c.backend",
    ),
    # A Kubernetes job needs an image (and a command): refused before anything is written or sent.
    "kubernetes-without-image": (
        {"c": {"backend": "kubernetes"}},
        [{"name": "a", "command": ["true"]}],
        'jobs[1] "a": image',
    ),
}


@pytest.fixture(params=list(BAD_MANIFESTS))
def bad_manifest(request: pytest.FixtureRequest, deck) -> tuple[str, str]:
    """A bad manifest for session "s" in the deck's work folder, and the field its error must name."""
    clusters, jobs, field = BAD_MANIFESTS[request.param]
    return str(deck.manifest(SESSION, clusters, jobs, file="bad.toml")), field


def one_error_line(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}: {stderr!r}"
    assert lines[0].startswith("jobdeck: error: "), lines[0]
    return lines[0]


def misnamed(line: str, path: str, field: str) -> list[str]:
    """What the error line fails to name (the file first, then the field)."""
    if line.startswith(f"jobdeck: error: {path}: ") and field in line:
        return []
    return [f"the error does not name {path} and then {field}: {line}"]


def test_bad_manifest_is_refused_in_one_line_and_creates_no_database(deck, bad_manifest):
    path, field = bad_manifest
    result = deck.run("submit", path, "--no-tui")
    assert result.returncode == 2, (result.stdout, result.stderr)
    problems = misnamed(one_error_line(result.stderr), path, field)
    assert not [*problems, *(["the database was created"] if deck.db.exists() else [])]


def test_bad_manifest_leaves_an_existing_session_as_it_was(deck, bad_manifest):
    good = deck.manifest(SESSION, LOCAL, [{"name": "a", "script": "behave.sh"}], file="good.toml")
    first = deck.run("submit", str(good), "--no-tui")
    assert first.returncode == 0, (first.stdout, first.stderr)
    before = deck.json("sessions"), deck.json("list")
    path, field = bad_manifest
    result = deck.run("submit", path, "--no-tui")
    assert result.returncode == 2, (result.stdout, result.stderr)
    problems = misnamed(one_error_line(result.stderr), path, field)
    after = deck.json("sessions"), deck.json("list")
    assert not [*problems, *([f"the store changed: {before} -> {after}"] if after != before else [])]


def test_status_of_an_unknown_job_is_one_line(deck):
    result = deck.run("status", "nope")
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "'nope'" in one_error_line(result.stderr)
    assert result.stdout == ""


def test_list_with_an_unknown_state_is_one_line(deck):
    result = deck.run("list", "--status", "bogus")
    assert result.returncode == 2, (result.stdout, result.stderr)
    line = one_error_line(result.stderr)
    assert "--status" in line and "'bogus'" in line and "succeeded" in line, line
    assert result.stdout == ""
