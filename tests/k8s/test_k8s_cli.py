"""The real `jobdeck` command against the loopback API server: submit a manifest's Kubernetes jobs,
sync as their pods run and end, list them, cancel one."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from k8s_support import FakeApiServer

NAMESPACE = "team"  # the kubeconfig fixture's context namespace

MANIFEST = """\
[session]
name = "cli"
validate_grace = 0.0

[clusters.k8s]
backend = "kubernetes"
kubeconfig = "{kubeconfig}"
ttl_seconds_after_finished = 600

[[jobs]]
name = "sweep"
image = "busybox:1.36"
command = ["sh", "/data/sweep.sh"]
args = ["--part", "{{task}}"]
array = "0-2"
outputs = ["out/{{task}}.txt"]

[[jobs]]
name = "serve"
image = "busybox:1.36"
command = ["sleep", "3600"]
"""


def jobdeck() -> str:
    beside = Path(sys.executable).parent / "jobdeck"
    found = str(beside) if beside.exists() else shutil.which("jobdeck")
    assert found, f"no `jobdeck` console script next to {sys.executable}: pip install -e ."
    return found


def run(db: Path, *words: str) -> Any:
    result = subprocess.run([jobdeck(), "--db", str(db), *words], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "NO_COLOR": "1"})  # fmt: skip
    assert result.returncode == 0, (
        f"jobdeck {' '.join(words)}: {result.returncode}\n{result.stdout}\n{result.stderr}"
    )
    return json.loads(result.stdout)


def rows(db: Path) -> dict[str, dict[str, Any]]:
    return {
        (r["name"] if r["task"] is None else f"{r['name']}[{r['task']}]"): r
        for r in run(db, "list", "--json")
    }


def test_submit_sync_list_and_cancel_through_the_cli(
    tmp_path: Path, kubeconfig: Path, apiserver: FakeApiServer
) -> None:
    manifest = tmp_path / "k8s.toml"
    manifest.write_text(MANIFEST.format(kubeconfig=kubeconfig))
    db = tmp_path / "jobdeck.db"

    submitted = {o["name"]: o for o in run(db, "submit", str(manifest), "--no-tui", "--json")}
    assert {n: o["error"] for n, o in submitted.items()} == {"sweep": None, "serve": None}
    sweep, serve = submitted["sweep"]["job_id"], submitted["serve"]["job_id"]
    assert submitted["sweep"]["task_ids"] == {str(t): f"{sweep}_{t}" for t in range(3)}
    created = apiserver.job(sweep, NAMESPACE)
    assert (created["spec"]["completions"], created["spec"]["ttlSecondsAfterFinished"]) == (3, 600)

    (tmp_path / "out").mkdir()
    for task in range(3):
        pod = apiserver.pod(sweep, task, NAMESPACE)
        apiserver.run(pod, NAMESPACE)
        if task != 1:
            (tmp_path / "out" / f"{task}.txt").write_text("ok\n")
            apiserver.succeed(pod, NAMESPACE)
        else:
            apiserver.fail(pod, exit_code=4, namespace=NAMESPACE)
    apiserver.run(apiserver.pod(serve, namespace=NAMESPACE), NAMESPACE)

    (report,) = run(db, "sync", "--json")
    assert report["clusters"]["k8s"]["ok"] and report["clusters"]["k8s"]["commands"] == [
        "list jobs",
        "list pods",
    ]
    listed = rows(db)
    assert {k: (r["state"], r["exit_code"]) for k, r in listed.items()} == {
        "sweep[0]": ("SUCCEEDED", 0), "sweep[1]": ("FAILED", 4), "sweep[2]": ("SUCCEEDED", 0), "serve": ("RUNNING", None),
    }  # fmt: skip
    assert (
        listed["serve"]["log_path"] == f"k8s://{NAMESPACE}/{apiserver.pod(serve, namespace=NAMESPACE)}/main"
    )

    cancelled = run(db, "cancel", "cli/serve", "--json")
    assert [j["state"] for j in cancelled["jobs"]] == ["CANCELLED"]
    assert serve not in {name for _, name in apiserver.jobs}


def test_a_manifest_without_an_image_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    manifest = tmp_path / "bad.toml"
    manifest.write_text('[session]\nname = "x"\n[clusters.k]\nbackend = "kubernetes"\n[[jobs]]\nname = "a"\n'
                        'command = ["true"]\n')  # fmt: skip
    result = subprocess.run([jobdeck(), "--db", str(tmp_path / "db"), "submit", str(manifest), "--no-tui"],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 2 and result.stderr.strip().endswith("image: field required "
                                                                      "(or an image in the job_template's first container)")  # fmt: skip
    assert not (tmp_path / "db").exists()


@pytest.fixture(autouse=True)
def _no_user_kubeconfig(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The command must use the manifest's kubeconfig, never the user's."""
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-such-kubeconfig"))
