"""`jobdeck adopt` on the real cluster, locally and over SSH (the `queue_deck` fixture's two
variants): jobs submitted with plain sbatch become jobs of the session `adopted` under their own
IDs, a failed one restarts with its own kept batch script after the original file was deleted,
outputs declared at or after adoption are validated, and bad IDs are one line each."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.queue.conftest import QueueDeck

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

SETTLE = 180  # seconds: jobs wait for a core on a loaded machine, accounting lags behind


def test_adopted_jobs_are_listed_and_a_failed_one_reruns_its_own_script(queue_deck: QueueDeck) -> None:
    fail, ok = queue_deck.name("afail"), queue_deck.name("aok")
    script = queue_deck.workdir / "args_exit.sh"
    log = f"--output={queue_deck.workdir}/{fail}-%j.out"
    fail_id = queue_deck.sbatch(f"--job-name={fail}", "--time=5", log, str(script), "3", "alpha", "two words")
    ok_id = queue_deck.sbatch(f"--job-name={ok}", "--time=5", str(script), "0", "beta")

    report = queue_deck.json("adopt", fail_id, ok_id)
    assert {a["job_id"]: a["name"] for a in report["adopted"]} == {fail_id: fail, ok_id: ok}
    assert report["session"] == "adopted" and report["cluster"] == "lab" and not report["refused"]
    assert {j["name"]: j["job_id"] for j in report["jobs"]} == {fail: fail_id, ok: ok_id}  # polled once
    listed = {j["name"]: j["job_id"] for j in queue_deck.json("list", "--session", "adopted")}
    assert listed == {fail: fail_id, ok: ok_id}
    kept = {a["job_id"]: a for a in report["adopted"]}[fail_id]
    assert kept["script"].endswith(f"/.jobdeck/adopted/lab/{fail_id}.sh") and kept["args"][:2] == [
        "3",
        "alpha",
    ]
    # the command line's --time=5 once accounting has it, else what scontrol shows of it
    assert {"--time=5", "--time=00:05:00"} & set(kept["options"]) and kept[
        "log"
    ] == f"{queue_deck.workdir}/{fail}-%j.out"
    script.unlink()  # a restart runs the copy kept at adoption

    rows = queue_deck.sync_reports("adopted", limit=SETTLE, what="adopted jobs end")[0]
    assert rows[(fail, None)]["job_id"] == fail_id and rows[(ok, None)]["job_id"] == ok_id
    assert rows[(fail, None)]["state"] == "FAILED" and rows[(fail, None)]["exit_code"] == 3
    assert rows[(ok, None)]["state"] == "SUCCEEDED"

    dry = queue_deck.run("restart", "--dry-run", f"adopted/{fail}")
    assert dry.returncode == 0, dry.stderr
    assert f"reruns job {fail_id}'s own batch script (kept at {kept['script']})" in dry.stdout
    assert "arguments [3 alpha two words]" in dry.stdout and " --time=" in dry.stdout

    restarted = queue_deck.json("restart", f"adopted/{fail}")
    new_id = restarted["submissions"][0]["job_id"]
    queue_deck.submitted.append(new_id)
    rows = queue_deck.sync_reports(
        "adopted",
        lambda r: r[(fail, None)]["job_id"] == new_id and r[(fail, None)]["state"] == "FAILED",
        SETTLE,
        "the restarted job fails again",
    )[0]
    assert rows[(fail, None)]["exit_code"] == 3
    first = (queue_deck.workdir / f"{fail}-{fail_id}.out").read_text()
    again = (queue_deck.workdir / f"{fail}-{new_id}.out").read_text()
    assert first == "argc=2\n[alpha]\n[two words]\n"
    # SLURM 22.05 keeps the arguments joined by spaces only: "two words" comes back as two words
    assert again == "argc=3\n[alpha]\n[two]\n[words]\n"
    status: dict[str, Any] = queue_deck.json("status", f"adopted/{fail}")
    assert [(a["kind"], a["job_id"]) for a in status["attempts"]] == [("adopt", fail_id), ("restart", new_id)]

    twice = queue_deck.run("adopt", fail_id)
    assert twice.returncode == 0 and f"job {fail_id} is already adopted/{fail}: nothing done" in twice.stdout
    assert len(queue_deck.json("status", f"adopted/{fail}")["attempts"]) == 2


def test_bad_ids_are_one_line_each_and_store_nothing(queue_deck: QueueDeck) -> None:
    other = queue_deck.sbatch(
        "--uid=nobody", f"--job-name={queue_deck.name('other')}", "--time=1", "--wrap=true"
    )
    result = queue_deck.run("adopt", "abc", "999999991", other, "--session", "bad-ones")
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout.splitlines() == [
        "job 'abc': not a SLURM job ID (123, or 123_4 for one array task)",
        "job 999999991: lab knows no such job (not queued, not in accounting)",
        f"job {other}: belongs to another user (uid 65534): only your own jobs can be adopted",
    ]
    assert queue_deck.json("sessions") == []

    two = queue_deck.folder / "two.toml"
    two.write_text(
        '[clusters.lab]\nbackend = "slurm"\n[clusters.here]\nbackend = "local"\n', encoding="utf-8"
    )
    which = queue_deck.run("adopt", other, env={"JOBDECK_CONFIG": str(two)})
    assert which.returncode == 2 and which.stderr.strip().endswith(
        "--cluster: say which cluster the jobs run on: lab, here"
    )


def test_outputs_declared_at_or_after_adoption_decide_success(queue_deck: QueueDeck) -> None:
    plain, array = queue_deck.name("aplain"), queue_deck.name("aarray")
    script = str(queue_deck.workdir / "writes_outputs.sh")
    plain_id = queue_deck.sbatch(f"--job-name={plain}", "--time=5", script, "a.txt")
    array_id = queue_deck.sbatch(f"--job-name={array}", "--time=5", "--array=0-2", script)

    declared = queue_deck.json("adopt", plain_id, "--output", "a.txt", "--output", "b.txt")
    assert declared["adopted"][0]["outputs"] == [f"{queue_deck.workdir}/a.txt", f"{queue_deck.workdir}/b.txt"]
    report = queue_deck.json("adopt", array_id)
    assert report["adopted"][0]["task_ids"] == {str(t): f"{array_id}_{t}" for t in range(3)}

    rows = queue_deck.sync_reports("adopted", limit=SETTLE, what="adopted jobs end")[0]
    assert rows[(plain, None)]["state"] == "PARTIAL"  # b.txt was never written
    assert [rows[(array, t)]["state"] for t in range(3)] == ["SUCCEEDED"] * 3  # no outputs declared yet

    later = queue_deck.run("adopt", array_id, "--output", "out-{task}.txt")
    assert later.returncode == 0 and "outputs declared (out-{task}.txt)" in later.stdout
    checked = {(r["name"], r["task"]): r for r in queue_deck.json("validate", "--force", f"adopted/{array}")}
    assert [checked[(array, t)]["state"] for t in range(3)] == ["SUCCEEDED", "FAILED", "SUCCEEDED"]
    assert checked[(array, 1)]["missing"] == [f"{queue_deck.workdir}/out-1.txt"]

    plan = queue_deck.json("resume", "--dry-run", f"adopted/{array}")["plans"][0]
    assert plan["tasks"] == [1] and plan["submission"]["dry_run"]
    assert f"reruns job {array_id}'s own batch script" in plan["submission"]["command"]


def test_a_job_the_controller_no_longer_holds_is_adopted_from_accounting(queue_deck: QueueDeck) -> None:
    name = queue_deck.name("agone")
    script = queue_deck.workdir / "args_exit.sh"
    log = f"--output={queue_deck.workdir}/{name}-%j.out"
    job_id = queue_deck.sbatch(f"--job-name={name}", "--time=5", log, str(script), "3", "gamma")

    def purged() -> bool | None:
        held = subprocess.run(
            ["scontrol", "show", "job", "-o", job_id], capture_output=True, text=True, timeout=30,
            env=queue_deck.environ(),
        )  # fmt: skip
        line = subprocess.run(
            ["sacct", "-X", "-n", "-P", "-j", job_id, "-o", "SubmitLine"], capture_output=True, text=True,
            timeout=30, env=queue_deck.environ(),
        ).stdout.strip()  # fmt: skip
        return True if "Invalid job id" in held.stderr and line else None

    queue_deck.wait(purged, 300, f"job {job_id} gone from the controller (MinJobAge) and in accounting")
    report = queue_deck.json("adopt", job_id)
    (adopted,) = report["adopted"]
    assert adopted["script"].endswith(f"/{job_id}.sh") and adopted["args"] == ["3", "gamma"]
    assert adopted["options"] == ["--time=5"] and adopted["log"] == f"{queue_deck.workdir}/{name}-%j.out"
    assert any(f"kept {script} as it is now" in note for note in adopted["notes"])

    queue_deck.sync_reports("adopted", limit=SETTLE, what="the adopted job is read from accounting")
    restarted = queue_deck.json("restart", f"adopted/{name}")
    new_id = restarted["submissions"][0]["job_id"]
    queue_deck.submitted.append(new_id)
    queue_deck.sync_reports(
        "adopted",
        lambda r: r[(name, None)]["job_id"] == new_id and r[(name, None)]["state"] == "FAILED",
        SETTLE,
    )
    assert (queue_deck.workdir / f"{name}-{new_id}.out").read_text() == "argc=1\n[gamma]\n"


def test_outputs_declared_in_the_config_file_apply_at_adoption_and_again_later(queue_deck: QueueDeck) -> None:
    name = queue_deck.name("aconf")
    script = str(queue_deck.workdir / "writes_outputs.sh")
    job_id = queue_deck.sbatch(f"--job-name={name}", "--time=5", script, "a.txt")
    config = Path(queue_deck.env["JOBDECK_CONFIG"])
    base = config.read_text(encoding="utf-8")
    config.write_text(f'{base}[adopted.{name}]\noutputs = ["a.txt", "b.txt"]\n', encoding="utf-8")

    report = queue_deck.json("adopt", job_id)
    assert report["adopted"][0]["outputs"] == [f"{queue_deck.workdir}/a.txt", f"{queue_deck.workdir}/b.txt"]
    rows = queue_deck.sync_reports("adopted", limit=SETTLE, what="the adopted job ends")[0]
    assert rows[(name, None)]["state"] == "PARTIAL"  # b.txt was never written

    again = queue_deck.run("adopt", job_id)  # the same config: nothing to change
    assert again.returncode == 0 and "nothing done" in again.stdout
    config.write_text(f'{base}[adopted.{name}]\noutputs = ["a.txt"]\n', encoding="utf-8")
    later = queue_deck.run("adopt", job_id)
    assert later.returncode == 0 and "outputs declared (a.txt)" in later.stdout
    checked = queue_deck.json("validate", "--force", f"adopted/{name}")
    assert [r["state"] for r in checked] == ["SUCCEEDED"]


def test_an_adopted_job_resubmitted_by_hand_is_found_by_name(queue_deck: QueueDeck) -> None:
    name = queue_deck.name("ahand")
    first = queue_deck.sbatch(f"--job-name={name}", "--time=5", "sleeper.sh", "300")
    assert queue_deck.json("adopt", first)["adopted"][0]["job_id"] == first
    subprocess.run(["scancel", first], env=queue_deck.environ(), check=True, timeout=30)
    time.sleep(1.1)  # SLURM's submit times are whole seconds: a resubmission is the later one
    second = queue_deck.sbatch(f"--job-name={name}", "--time=5", "sleeper.sh", "300")  # as people do
    rows = queue_deck.sync_reports(
        "adopted", lambda r: r[(name, None)]["job_id"] == second, SETTLE, "the resubmission found by name"
    )[0]
    assert rows[(name, None)]["state"] in ("QUEUED", "RUNNING")
    attempts = queue_deck.json("status", f"adopted/{name}")["attempts"]
    assert [(a["job_id"], a["state"]) for a in attempts] == [
        (first, "CANCELLED"),
        (second, attempts[1]["state"]),
    ]
