"""Session and job names, the working folder, the script's path, the output path and every argument
full of spaces, quotes, newlines, `;`, `|`, `$(...)` and backticks, through `jobdeck submit` to real
processes: on this machine (the local backend), on the SLURM cluster, and on it over SSH. Everything
arrives literally (the job writes its arguments back, NUL-separated) and nothing is ever run by a
shell: no canary file appears anywhere a shell could have made it."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from fault_daemons import SSH_HOST
from fault_harness import TESTS, Deck, load_module, record

output_names = load_module(TESTS / "validation" / "test_output_names.py", "jobdeck_output_names")

ECHO = """#!/bin/sh
# writes its arguments after the first, NUL-separated, to the file the first names
out=$1; shift
mkdir -p "$(dirname "$out")"
printf '%s\\0' "$@" > "$out"
"""


def hostile(canary: str) -> str:
    """Text a shell would split, expand or run; legal in a job name."""
    return f"a b; $(touch {canary}) `touch {canary}` 'q' \"dq\" | & > ~ * ?"


@pytest.fixture(params=["local", "slurm", "slurm-ssh"])
def cluster(request: pytest.FixtureRequest, deck: Deck) -> dict[str, Any]:
    """The [clusters] table of each way jobs run, with the environment that reaches it."""
    if request.param == "local":
        return {"backend": "local"}
    deck.env["SLURM_CONF"] = request.getfixturevalue("slurm_conf")
    if request.param == "slurm":
        return {"backend": "slurm"}
    deck.env["JOBDECK_SSH_CONFIG"] = str(request.getfixturevalue("ssh_config"))
    return {"backend": "slurm", "host": SSH_HOST}


def test_names_paths_and_arguments_arrive_literally_and_nothing_runs(
    deck: Deck, cluster: dict[str, Any]
) -> None:
    canary = f"canary-{uuid.uuid4().hex[:8]}"
    work = deck.workdir / f"w d {hostile(canary)}"
    work.mkdir()
    script = work / f"run me; $(touch {canary}).sh"
    script.write_text(ECHO)
    script.chmod(0o755)
    args = output_names.tricky_names(canary, work)
    out = f"out $(touch {canary})/args `touch {canary}` 'q'.bin"
    session, name = f"s {hostile(canary)}", f"j {hostile(canary)}"
    document = {
        "session": {"name": session, "validate_grace": 0},
        "clusters": {"c": {**cluster, "workdir": str(work)}},
        "jobs": [
            {
                "name": name,
                "script": script.name,
                "args": [output_names.template(a) for a in [out, *args]],
                "outputs": [output_names.template(out)],
            }
        ],
    }
    manifest = work / "manifest.json"
    manifest.write_text(json.dumps(document, ensure_ascii=False))
    deck.json("submit", str(manifest), "--no-tui")
    jobs, _ = deck.sync_until(session, None, 60, "the job to settle")
    status = deck.json("status", f"{session}/{name}")
    written = (work / out).read_bytes().split(b"\0")[:-1]
    found = output_names.canaries(canary, deck.folder)
    record("hostile names, paths and arguments", bad_inputs=len(args) + 5)
    assert [(j["name"], j["state"]) for j in jobs.values()] == [(name, "SUCCEEDED")], jobs
    assert status["name"] == name and status["session"] == session, status
    assert [w.decode() for w in written] == args
    assert found == [], f"a shell ran what should have been data: {found}"
