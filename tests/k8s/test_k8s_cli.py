"""The real `jobdeck` command against the real control plane, as the Role-bound user: the issue's
"done when" — an Indexed Job with a task that ends without its output is PARTIAL and its resume
runs exactly that index; a pod that exits 1 with backoff_limit 0 fails with BackoffLimitExceeded;
cancel deletes the Job and its pods; `jobdeck logs` prints a finished pod's output, and the copy a
monitor kept once the pod is gone."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from control_plane import Admin, ControlPlane
from monitor_process import jobdeck_command, wait_for

from backends.kubernetes.naming import TASKS

MANIFEST = """\
[session]
name = "{session}"
validate_grace = 0.0

[clusters.k8s]
backend = "kubernetes"
kubeconfig = "{kubeconfig}"
workdir = "{folder}"

[[jobs]]
name = "sweep"
image = "busybox:1.36"
command = ["sh", "-c", "cd {folder} && if [ $1 != 2 ] || [ -e resumed ]; then echo done $1 > out-$1; fi", "sh"]
args = ["{{task}}"]
array = "0-3"
outputs = ["out-{{task}}"]

[[jobs]]
name = "crash"
image = "busybox:1.36"
command = ["sh", "-c", "echo giving up >&2; exit 1"]
backoff_limit = 0

[[jobs]]
name = "serve"
image = "busybox:1.36"
command = ["sleep", "300"]
"""


def run(db: Path, *words: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([jobdeck_command(), "--db", str(db), *words], capture_output=True, text=True, timeout=90,
                            env={**os.environ, "NO_COLOR": "1"})  # fmt: skip
    assert not check or result.returncode == 0, (
        f"jobdeck {' '.join(words)}: {result.returncode}\n{result.stdout}\n{result.stderr}"
    )
    return result


def rows(db: Path) -> dict[str, dict[str, Any]]:
    listed = json.loads(run(db, "list", "--json").stdout)
    return {(r["name"] if r["task"] is None else f"{r['name']}[{r['task']}]"): r for r in listed}


def synced_until(db: Path, what: str, done: Any, timeout: float = 90.0) -> dict[str, dict[str, Any]]:
    """`jobdeck sync` until `done(rows)`; fails naming what was awaited and the rows seen."""
    deadline = time.monotonic() + timeout
    while True:
        run(db, "sync", "--json")
        found = rows(db)
        if done(found):
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}: " + json.dumps(
            {k: (r["state"], r["reason"], r["exit_code"]) for k, r in found.items()}
        )
        time.sleep(1)


@pytest.mark.k8s
def test_partial_resume_backoff_and_cancel_through_the_cli(
    tmp_path: Path, plane: ControlPlane, admin: Admin, session: str
) -> None:
    manifest = tmp_path / "k8s.toml"
    manifest.write_text(MANIFEST.format(session=session, kubeconfig=plane.kubeconfig, folder=tmp_path))
    db = tmp_path / "jobdeck.db"

    submitted = {
        o["name"]: o for o in json.loads(run(db, "submit", str(manifest), "--no-tui", "--json").stdout)
    }
    assert {n: o["error"] for n, o in submitted.items()} == {"sweep": None, "crash": None, "serve": None}
    sweep = submitted["sweep"]["job_id"]
    assert submitted["sweep"]["task_ids"] == {str(t): f"{sweep}_{t}" for t in range(4)}
    assert admin.job(sweep)["spec"]["completions"] == 4

    found = synced_until(db, "the sweep settled, the crash failed, serve running", lambda r: (
        all(r[f"sweep[{t}]"]["state"] in ("SUCCEEDED", "PARTIAL", "FAILED") for t in range(4))
        and r["crash"]["reason"] == "BackoffLimitExceeded" and r["serve"]["state"] == "RUNNING"))  # fmt: skip
    assert {t: found[f"sweep[{t}]"]["state"] for t in range(4)} == {0: "SUCCEEDED", 1: "SUCCEEDED", 2: "FAILED", 3: "SUCCEEDED"}  # fmt: skip
    assert (found["sweep[2]"]["exit_code"], json.loads(run(db, "status", f"{session}/sweep", "--json").stdout)["state"]) == (
        0, "PARTIAL")  # fmt: skip
    crash = found["crash"]
    assert (crash["state"], crash["exit_code"], crash["reason"]) == ("FAILED", 1, "BackoffLimitExceeded")
    assert run(db, "logs", f"{session}/crash").stdout == "giving up\n"  # a finished pod's output

    (tmp_path / "resumed").touch()
    resumed = json.loads(run(db, "resume", f"{session}/sweep", "--json").stdout)
    (plan,) = resumed["plans"]
    assert plan["tasks"] == [2] and plan["submission"]["error"] is None
    new = admin.job(plan["submission"]["job_id"])
    assert (new["spec"]["completionMode"], new["spec"]["completions"], new["metadata"]["annotations"][TASKS]) == (
        "Indexed", 1, "2")  # fmt: skip
    found = synced_until(db, "the resumed task succeeded", lambda r: r["sweep[2]"]["state"] == "SUCCEEDED")
    assert {t: found[f"sweep[{t}]"]["state"] for t in range(4)} == dict.fromkeys(range(4), "SUCCEEDED")

    serve = found["serve"]["job_id"]
    cancelled = json.loads(run(db, "cancel", f"{session}/serve", "--json").stdout)
    assert [j["state"] for j in cancelled["jobs"]] == ["CANCELLED"]
    gone = lambda: all(j["metadata"]["name"] != serve for j in admin.jobs(session)) and all(  # noqa: E731
        p["metadata"]["labels"].get("batch.kubernetes.io/job-name") != serve for p in admin.pods(session))  # fmt: skip
    wait_for(gone, 60, "the serve Job and its pod gone")

    # a monitor keeps the finished pods' logs; once the crash's Job and pod are gone the copy is shown
    run(db, "attach", session, "--no-tui", "--exit-when-done", "--interval", "0.5")
    admin.delete_job(crash["job_id"])
    wait_for(lambda: not [p for p in admin.pods(session) if p["metadata"]["labels"].get(
        "batch.kubernetes.io/job-name") == crash["job_id"]], 60, "the crash pod gone")  # fmt: skip
    kept = run(db, "logs", f"{session}/crash").stdout.splitlines()
    assert kept[0].startswith("--- the pod is gone: its last 1 log lines") and kept[1:] == ["giving up"]


def test_a_manifest_without_an_image_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    manifest = tmp_path / "bad.toml"
    manifest.write_text('[session]\nname = "x"\n[clusters.k]\nbackend = "kubernetes"\n[[jobs]]\nname = "a"\n'
                        'command = ["true"]\n')  # fmt: skip
    result = subprocess.run([jobdeck_command(), "--db", str(tmp_path / "db"), "submit", str(manifest), "--no-tui"],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 2 and result.stderr.strip().endswith("image: field required "
                                                                      "(or an image in the job_template's first container)")  # fmt: skip
    assert not (tmp_path / "db").exists()


@pytest.fixture(autouse=True)
def _no_user_kubeconfig(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The command must use the manifest's kubeconfig, never the user's."""
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-such-kubeconfig"))
