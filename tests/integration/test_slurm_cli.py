"""Issue 2 end to end: the real `jobdeck` command against the real SLURM cluster, run on this machine
and through SSH (fixtures in this folder's conftest.py). A session's jobs and array tasks settle to
the right canonical state, reason, exit code, scheduler ID and log; accounting being off falls back
to scontrol; a poll is one squeue; an SSH host that cannot be reached or proves to be someone else
changes no job's state.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import socket
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncssh
import pytest

SESSION = {"validate_grace": 2, "poll_interval": 1}
SWEEP_FAILS = (1, 3)
MIXED = [
    {"name": "ok", "script": "behave.sh", "args": ["--code", "0"]},
    {"name": "fail", "script": "behave.sh", "args": ["--code", "3"]},
    {"name": "sleeper", "script": "behave.sh", "args": ["--sleep", "300"]},
    {
        "name": "sweep",
        "script": "behave.sh",
        "array": "0-4",
        "args": ["--task", "{task}", "--fail-tasks", ",".join(map(str, SWEEP_FAILS))],
        "outputs": ["out/{task}.txt"],
        "log": "logs/%x-%A_%a.out",
    },
]
TWO_JOBS = [
    {"name": "ok", "script": "behave.sh"},
    {"name": "fail", "script": "behave.sh", "args": ["--code", "3"]},
]


def job_args(job: dict[str, Any], task: int | None) -> str:
    """The arguments a job or task of the manifest ran with, as behave.sh prints them."""
    return " ".join(arg.replace("{task}", str(task)) for arg in job.get("args", []))


def first_log_line(job: dict[str, Any]) -> str:
    log = Path(job["log_path"])
    assert log.is_absolute() and log.is_file(), f"log of {job['name']}[{job['task']}]: {log}"
    return log.read_text().splitlines()[0]


def seconds(iso: str) -> float:
    return datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S%z").timestamp()


def failure(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\nstdout: {result.stdout}\nstderr: {result.stderr}"


# -- a session of every kind of ending ---------------------------------------------------------


def test_session_settles_every_job_and_task(cluster_deck, transport):
    deck = cluster_deck
    manifest = deck.manifest({"name": "mixed", **SESSION}, {"c": transport.cluster(deck.workdir)}, MIXED)
    outcomes = {o["name"]: o for o in deck.json("submit", str(manifest), "--no-tui")}
    assert sorted(outcomes) == ["fail", "ok", "sleeper", "sweep"]
    ids = {name: o["job_id"] for name, o in outcomes.items()}
    assert all(o["error"] is None and o["cluster"] == "c" for o in outcomes.values()), outcomes
    assert all(i.isdigit() for i in ids.values()) and len(set(ids.values())) == 4, ids
    for name in ("ok", "fail", "sleeper"):
        assert (outcomes[name]["tasks"], outcomes[name]["task_ids"]) == ([None], {"": ids[name]})
    sweep = {t: f"{ids['sweep']}_{t}" for t in range(5)}
    assert outcomes["sweep"]["tasks"] == list(range(5))
    assert outcomes["sweep"]["task_ids"] == {str(t): sweep[t] for t in range(5)}

    deck.sync_until("mixed", lambda jobs: jobs["sleeper", None]["state"] == "RUNNING", 120, "sleeper runs")
    cancel = deck.json("cancel", "mixed/sleeper")
    assert cancel["actions"] == [f"mixed/sleeper: cancel sent to c for {ids['sleeper']}"]
    attach = deck.run("attach", "mixed", "--no-tui", "--exit-when-done", "--interval", "1", timeout=150)
    assert attach.returncode == 0, failure(attach)

    jobs = deck.jobs("mixed")
    assert {key: (j["state"], j["reason"], j["exit_code"], j["job_id"]) for key, j in jobs.items()} == {
        ("ok", None): ("SUCCEEDED", None, 0, ids["ok"]),
        ("fail", None): ("FAILED", None, 3, ids["fail"]),
        ("sleeper", None): ("CANCELLED", None, 0, ids["sleeper"]),
        **{("sweep", t): ("SUCCEEDED", None, 0, sweep[t]) for t in range(5) if t not in SWEEP_FAILS},
        **{("sweep", t): ("FAILED", None, 10 + t, sweep[t]) for t in SWEEP_FAILS},
    }
    assert {j["attempt"] for j in jobs.values()} == {1}
    logs = {key: Path(j["log_path"]) for key, j in jobs.items()}
    assert logs == {
        **{(name, None): deck.workdir / f"slurm-{ids[name]}.out" for name in ("ok", "fail", "sleeper")},
        **{("sweep", t): deck.workdir / "logs" / f"sweep-{sweep[t]}.out" for t in range(5)},
    }
    manifest_jobs = {job["name"]: job for job in MIXED}
    for (name, task), job in jobs.items():
        assert first_log_line(job) == f"behave.sh args: {job_args(manifest_jobs[name], task)}"
    assert sorted(p.name for p in (deck.workdir / "out").iterdir()) == ["0.txt", "2.txt", "4.txt"]
    assert {t: jobs["sweep", t]["outputs_verified"] for t in range(5)} == {0: 1, 1: None, 2: 1, 3: None, 4: 1}

    array = deck.json("status", "mixed/sweep")
    # aggregate_state: some tasks succeeded and the rest failed, so the array as a whole is PARTIAL.
    assert (array["state"], array["array"], array["tasks_total"]) == ("PARTIAL", "0-4", 5)
    assert array["counts"] == {"SUCCEEDED": 3, "FAILED": 2}
    assert (array["outputs_verified"], array["outputs_expected"]) == (3, 5)
    assert [(t["task"], t["state"], t["job_id"]) for t in array["tasks"]] == [
        (t, jobs["sweep", t]["state"], sweep[t]) for t in range(5)
    ]

    failed = deck.json("status", "mixed/fail")
    (attempt,) = failed["attempts"]
    # The attempt's reason is checked by test_a_settled_attempt_keeps_no_queue_reason: here it depends
    # on whether a poll happened to see the job pending.
    assert attempt | {"submit_time": None, "start_time": None, "end_time": None, "reason": None} == {
        "attempt": 1, "kind": "submit", "job_id": ids["fail"], "state": "FAILED", "scheduler_state": "FAILED",
        "reason": None, "exit_code": 3, "requeues": 0, "log_path": str(logs["fail", None]), "err_path": None,
        "submit_time": None, "start_time": None, "end_time": None,
    }  # fmt: skip
    steps = [(e["kind"], e["from"], e["to"]) for e in failed["events"]]
    assert steps[:2] == [("submit", "PENDING", "SUBMITTING"), ("submit", "SUBMITTING", "QUEUED")], steps
    assert steps[-1] == ("state", steps[-1][1], "FAILED") and "exit code 3" in failed["events"][-1]["message"]
    assert all(later[1] == earlier[2] for earlier, later in itertools.pairwise(steps)), steps

    (summary,) = deck.json("sessions")
    assert (summary["name"], summary["manifest"], summary["jobs"]) == ("mixed", str(manifest), 8)
    assert summary["counts"] == {"CANCELLED": 1, "FAILED": 3, "SUCCEEDED": 4}


def test_a_settled_attempt_keeps_no_queue_reason(cluster_deck, transport, slurm_conf):
    deck = cluster_deck
    held = [{"name": "held", "script": "behave.sh", "args": ["--code", "3"], "sbatch": ["--hold"]}]
    manifest = deck.manifest({"name": "held", **SESSION}, {"c": transport.cluster(deck.workdir)}, held)
    (outcome,) = deck.json("submit", str(manifest), "--no-tui")
    waiting, _ = deck.sync_until(
        "held", lambda jobs: jobs["held", None]["reason"] is not None, 30, "held seen"
    )
    assert (waiting["held", None]["state"], waiting["held", None]["reason"]) == ("QUEUED", "JobHeldUser")
    release = subprocess.run(
        ["scontrol", "release", outcome["job_id"]], env={**os.environ, "SLURM_CONF": slurm_conf},
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert release.returncode == 0, release.stderr
    deck.sync_until("held", None, 90, "released job settles")
    status = deck.json("status", "held/held")
    (attempt,) = status["attempts"]
    assert (status["state"], status["reason"], status["exit_code"]) == ("FAILED", None, 3)
    assert (attempt["state"], attempt["reason"], attempt["exit_code"]) == ("FAILED", None, 3), attempt


# -- a time limit ------------------------------------------------------------------------------


@pytest.mark.slow
def test_time_limit_ends_failed_with_reason_timeout(transport, timed_out):
    key = (f"limit-{transport.name}", None)
    assert key in timed_out, f"the shared time-limit session has no job for {transport.name}"
    job = timed_out[key]
    assert (job["state"], job["reason"], job["attempt"]) == ("FAILED", "TIMEOUT", 1), job
    ran = seconds(job["end_time"]) - seconds(job["start_time"])
    assert 60 <= ran <= 120, f"a --time=1 job ran {ran:g} s"
    assert first_log_line(job) == "behave.sh args: --sleep 300"


# -- accounting off: scontrol ------------------------------------------------------------------


@pytest.fixture
def no_accounting_conf(slurm_conf: str, tmp_path: Path) -> str:
    """A copy of the cluster's slurm.conf with accounting storage off (the same controller)."""
    folder = tmp_path / "etc"
    folder.mkdir()
    text, count = re.subn(
        r"^AccountingStorageType=.*$",
        "AccountingStorageType=accounting_storage/none",
        Path(slurm_conf).read_text(),
        flags=re.MULTILINE,
    )
    assert count == 1, f"{slurm_conf} sets no AccountingStorageType"
    (folder / "slurm.conf").write_text(text)
    return str(folder / "slurm.conf")


@pytest.mark.cluster
def test_finished_jobs_settle_from_scontrol_when_accounting_is_off(deck, no_accounting_conf):
    probe = subprocess.run(
        ["sacct", "-X", "-n"], env={**os.environ, "SLURM_CONF": no_accounting_conf},
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert probe.returncode != 0 and "accounting storage is disabled" in probe.stderr, probe
    deck.env["SLURM_CONF"] = no_accounting_conf
    manifest = deck.manifest({"name": "noacct", **SESSION}, {"c": {"backend": "slurm"}}, TWO_JOBS)
    ids = {o["name"]: o["job_id"] for o in deck.json("submit", str(manifest), "--no-tui")}

    settled, reports = deck.sync_until("noacct", None, 90, "jobs settle without accounting")
    assert {name: (j["state"], j["reason"], j["exit_code"]) for (name, _), j in settled.items()} == {
        "ok": ("SUCCEEDED", None, 0),
        "fail": ("FAILED", None, 3),
    }
    commands = [r["clusters"]["c"]["commands"] for r in reports]
    assert ["squeue", "sacct", "scontrol"] in commands, commands
    assert all(c in (["squeue"], ["squeue", "sacct", "scontrol"]) for c in commands), commands
    settling = {
        c["job"]: c["message"] for r in reports for c in r["changes"] if c["to"] in ("VALIDATING", "FAILED")
    }
    assert {job: message.split(" [")[-1] for job, message in settling.items()} == {
        "noacct/ok": f"scontrol {ids['ok']}]",
        "noacct/fail": f"scontrol {ids['fail']}]",
    }


# -- one squeue per poll -----------------------------------------------------------------------


def test_each_poll_of_thirty_jobs_is_one_squeue_and_at_most_one_sacct(cluster_deck, transport):
    deck = cluster_deck
    jobs = [{"name": f"plain-{i}", "script": "behave.sh"} for i in range(5)]
    jobs.append(
        {"name": "wide", "script": "behave.sh", "array": "0-24", "outputs": ["out/{task}.txt"]}
        | {"args": ["--sleep", "2", "--task", "{task}"]}
    )
    manifest = deck.manifest({"name": "wide", **SESSION}, {"c": transport.cluster(deck.workdir)}, jobs)
    assert len(deck.json("submit", str(manifest), "--no-tui")) == 6

    settled, reports = deck.sync_until("wide", None, 180, "30 jobs settle")
    assert len(settled) == 30 and {j["state"] for j in settled.values()} == {"SUCCEEDED"}
    asked = [r["clusters"]["c"]["commands"] for r in reports if r["clusters"]["c"]["commands"]]
    assert all(c in (["squeue"], ["squeue", "sacct"]) for c in asked), asked
    assert ["squeue", "sacct"] in asked, f"no poll asked accounting about jobs that left the queue: {asked}"


def test_attach_json_prints_one_line_per_cycle_with_each_clusters_commands_and_time(cluster_deck, transport):
    deck = cluster_deck
    jobs = [
        {"name": "short", "script": "behave.sh", "args": ["--sleep", "20"]}
    ]  # outlives two polls, even on a loaded machine
    manifest = deck.manifest({"name": "cycles", **SESSION}, {"c": transport.cluster(deck.workdir)}, jobs)
    assert len(deck.json("submit", str(manifest), "--no-tui")) == 1
    result = deck.run("attach", "cycles", "--no-tui", "--json", "--interval", "0.5", "--exit-when-done")
    assert result.returncode == 0, failure(result)
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    cycles = [line for line in lines if line["kind"] == "cycle"]
    assert len(cycles) >= 2 and {c["session"] for c in cycles} == {"cycles"}, lines
    figures = [c["clusters"]["c"] for c in cycles]
    assert all(f["ok"] and f["commands"][:1] == ["squeue"] and f["seconds"] > 0 for f in figures), figures
    assert "no command agent" not in result.stderr, result.stderr  # over SSH: the agent ran the commands


# -- an SSH host that cannot be reached, or is not who it says ---------------------------------


def ssh_setting(config: Path, key: str) -> str:
    """A setting of the (single-host) test ssh_config."""
    for line in config.read_text().splitlines():
        words = line.split(None, 1)
        if len(words) == 2 and words[0].lower() == key.lower():
            return words[1].strip()
    raise AssertionError(f"{config} sets no {key}")


def altered_ssh_config(config: Path, target: Path, key: str, value: str) -> Path:
    text, count = re.subn(
        rf"^(\s*){key}\s.*$", rf"\g<1>{key} {value}", config.read_text(), flags=re.MULTILINE | re.IGNORECASE
    )
    assert count == 1, f"{config} sets {key} {count} times"
    target.write_text(text)
    return target


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class SshFault:
    """One way SSH goes wrong, as manifest settings and as an ssh_config, and the words its error
    must contain besides the host."""

    cluster_keys: dict[str, Any]
    config: Path
    evidence: tuple[str, ...]

    def named_in(self, line: str, host: str) -> bool:
        return host in line and all(word in line for word in self.evidence)


@pytest.fixture(params=["closed-port", "wrong-host-key"])
def ssh_fault(request: pytest.FixtureRequest, ssh_config: Path, tmp_path: Path) -> SshFault:
    if request.param == "closed-port":
        port = closed_port()
        config = altered_ssh_config(ssh_config, tmp_path / "closed.ssh_config", "Port", str(port))
        return SshFault({"port": port}, config, ("unreachable", str(port)))
    entry = f"[{ssh_setting(ssh_config, 'HostName')}]:{ssh_setting(ssh_config, 'Port')}"
    recorded = Path(ssh_setting(ssh_config, "UserKnownHostsFile")).read_text().splitlines()
    (real,) = [line.split() for line in recorded if line.startswith(entry + " ")]
    fingerprint = asyncssh.import_public_key(" ".join(real[1:3])).get_fingerprint("sha256")
    other = asyncssh.generate_private_key("ssh-ed25519").export_public_key("openssh").decode().split()
    known_hosts = tmp_path / "wrong_known_hosts"
    known_hosts.write_text(f"{entry} {other[0]} {other[1]}\n")
    config = altered_ssh_config(
        ssh_config, tmp_path / "wrong.ssh_config", "UserKnownHostsFile", str(known_hosts)
    )
    return SshFault({"known_hosts": str(known_hosts)}, config, ("differs from the one recorded", fingerprint))


def submit_through(deck, ssh_transport, fault: SshFault) -> subprocess.CompletedProcess[str]:
    """Submit two jobs to a cluster whose manifest settings cause `fault`."""
    cluster = ssh_transport.cluster(deck.workdir, **fault.cluster_keys)
    manifest = deck.manifest({"name": "broken", **SESSION}, {"c": cluster}, TWO_JOBS)
    return deck.run("submit", str(manifest), "--no-tui")


@pytest.mark.cluster
@pytest.mark.ssh
def test_submit_through_broken_ssh_names_the_host_and_fails_no_job(ssh_deck, ssh_transport, ssh_fault):
    result = submit_through(ssh_deck, ssh_transport, ssh_fault)
    assert result.returncode == 1, failure(result)
    lines = result.stderr.splitlines()
    assert len(lines) == 2, result.stderr
    assert all(ssh_fault.named_in(line, ssh_transport.host) for line in lines), result.stderr
    assert "broken/ok" in lines[0] and "broken/fail" in lines[1], result.stderr
    # The connection failed before sbatch was sent, so nothing can have been submitted: the intent
    # is settled as not sent and the jobs wait, PENDING, to be submitted again (never FAILED or LOST).
    jobs = ssh_deck.jobs("broken")
    assert {name: (j["state"], j["job_id"], j["attempt"]) for (name, _), j in jobs.items()} == {
        "ok": ("PENDING", None, 0),
        "fail": ("PENDING", None, 0),
    }
    for name in ("ok", "fail"):
        *_, intent, settled = ssh_deck.json("status", f"broken/{name}")["events"]
        assert (intent["kind"], intent["from"], intent["to"]) == ("submit", "PENDING", "SUBMITTING"), intent
        assert (settled["kind"], settled["to"]) == ("rejected", "PENDING"), settled
        assert ssh_fault.named_in(settled["message"], ssh_transport.host), settled


@pytest.mark.cluster
@pytest.mark.ssh
def test_a_failed_submit_can_be_submitted_again_once_the_host_answers(ssh_deck, ssh_transport, ssh_fault):
    assert submit_through(ssh_deck, ssh_transport, ssh_fault).returncode == 1
    again = ssh_deck.run("submit-pending", "--session", "broken")
    assert again.returncode == 1, failure(again)
    assert {j["state"] for j in ssh_deck.jobs("broken").values()} == {"PENDING"}
    fixed = ssh_deck.manifest(
        {"name": "broken", **SESSION}, {"c": ssh_transport.cluster(ssh_deck.workdir)}, TWO_JOBS
    )
    resubmitted = ssh_deck.run("submit", str(fixed), "--no-tui")
    assert resubmitted.returncode == 0, failure(resubmitted)
    assert {j["state"] for j in ssh_deck.jobs("broken").values()} <= {
        "QUEUED",
        "RUNNING",
        "VALIDATING",
        "SUCCEEDED",
        "FAILED",
    }
    assert {j["attempt"] for j in ssh_deck.jobs("broken").values()} == {1}


@pytest.mark.cluster
@pytest.mark.ssh
def test_sync_through_broken_ssh_changes_no_job(ssh_deck, ssh_transport, ssh_fault):
    deck = ssh_deck
    jobs = [
        {"name": "sleeper", "script": "behave.sh", "args": ["--sleep", "300"]},
        {"name": "pair", "script": "behave.sh", "array": "0-1", "args": ["--sleep", "300"]},
    ]
    manifest = deck.manifest({"name": "held", **SESSION}, {"c": ssh_transport.cluster(deck.workdir)}, jobs)
    deck.json("submit", str(manifest), "--no-tui")
    deck.sync_until(
        "held", lambda js: all(j["state"] in ("QUEUED", "RUNNING") for j in js.values()), 60, "tracked"
    )
    before = deck.jobs("held")
    broken = {"JOBDECK_SSH_CONFIG": str(ssh_fault.config)}

    as_json = deck.run("sync", "--session", "held", "--json", env=broken)
    assert as_json.returncode == 1, failure(as_json)
    (report,) = json.loads(as_json.stdout)
    health = report["clusters"]["c"]
    assert (health["ok"], report["changes"]) == (False, []), report
    assert ssh_fault.named_in(health["error"], ssh_transport.host), report
    plain = deck.run("sync", "--session", "held", env=broken)
    assert plain.returncode == 1, failure(plain)
    (line,) = plain.stderr.splitlines()
    assert ssh_fault.named_in(line, ssh_transport.host), line
    assert deck.jobs("held") == before
