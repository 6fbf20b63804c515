"""One session with jobs on the real SLURM cluster and on the real Kubernetes control plane: submitted
by one command, settled by the same syncs, cancelled together, each log read from where it lives."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from control_plane import Admin, ControlPlane
from test_k8s_cli import run, synced_until

pytestmark = [pytest.mark.k8s, pytest.mark.cluster]

MANIFEST = """\
[session]
name = "{session}"
validate_grace = 0.0

[clusters.hpc]
backend = "slurm"
workdir = "{folder}"

[clusters.k8s]
backend = "kubernetes"
kubeconfig = "{kubeconfig}"

[[jobs]]
name = "prepare"
cluster = "hpc"
script = "prepare.sh"
outputs = ["prepared"]

[[jobs]]
name = "train"
cluster = "k8s"
image = "busybox:1.36"
command = ["sh", "-c", "echo training on $HOSTNAME"]

[[jobs]]
name = "hold"
cluster = "hpc"
script = "hold.sh"

[[jobs]]
name = "serve"
cluster = "k8s"
image = "busybox:1.36"
command = ["sleep", "300"]
"""


def test_slurm_and_kubernetes_jobs_in_one_session(
    tmp_path: Path, slurm_conf: str, plane: ControlPlane, admin: Admin, session: str
) -> None:
    (tmp_path / "prepare.sh").write_text("#!/bin/sh\necho prepared on slurm\n: > prepared\n")
    (tmp_path / "hold.sh").write_text("#!/bin/sh\nsleep 300\n")
    manifest = tmp_path / "mixed.toml"
    manifest.write_text(MANIFEST.format(session=session, folder=tmp_path, kubeconfig=plane.kubeconfig))
    db = tmp_path / "jobdeck.db"
    submitted = json.loads(run(db, "submit", str(manifest), "--no-tui", "--json").stdout)
    assert {o["name"]: o["error"] for o in submitted} == dict.fromkeys(("prepare", "train", "hold", "serve"))

    found = synced_until(db, "both finished jobs settled and both others running", lambda r: (
        r["prepare"]["state"] == r["train"]["state"] == "SUCCEEDED"
        and r["hold"]["state"] == r["serve"]["state"] == "RUNNING"))  # fmt: skip
    assert {k: r["cluster"] for k, r in found.items()} == {
        "prepare": "hpc",
        "train": "k8s",
        "hold": "hpc",
        "serve": "k8s",
    }
    assert run(db, "logs", f"{session}/prepare").stdout == "prepared on slurm\n"
    assert run(db, "logs", f"{session}/train").stdout.startswith("training on train-")

    run(db, "cancel", f"{session}/hold", f"{session}/serve")
    synced_until(db, "both cancelled", lambda r: r["hold"]["state"] == r["serve"]["state"] == "CANCELLED")
