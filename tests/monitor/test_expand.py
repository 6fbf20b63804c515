from __future__ import annotations

import os
from pathlib import Path

import pytest

from backends.registry import load_manifest
from monitor.expand import JobDefinition, expand_manifest
from monitor.model import JobSpec, OutputCheck, RestartPolicy
from monitor.templates import expand

EXAMPLES = Path(__file__).parent / "manifests"


def load_and_expand(folder: Path, text: str) -> list[JobDefinition]:
    path = folder / "m.toml"
    path.write_text(text)
    return expand_manifest(load_manifest(path))


@pytest.mark.parametrize("name", ["demo.toml", "demo.yaml", "demo.json"])
def test_contract_manifest_expands_to_seven_definitions(name: str) -> None:
    folder = str(EXAMPLES.resolve())
    definitions = expand_manifest(load_manifest(EXAMPLES / name))
    assert [(d.name, d.task) for d in definitions] == [
        ("ok", None), ("fail", None), ("sweep", 0), ("sweep", 1), ("sweep", 2), ("sweep", 3), ("sweep", 4),
    ]  # fmt: skip
    ok, fail, *sweep = definitions
    assert ok.spec == JobSpec(cluster="lab", script=f"{folder}/jobs/ok.sh", workdir=folder)
    assert fail.spec == JobSpec(
        cluster="lab", script=f"{folder}/jobs/fail.sh", workdir=folder, args=("--code", "3")
    )
    for task, definition in enumerate(sweep):
        assert definition.spec == JobSpec(
            cluster="lab",
            script=f"{folder}/jobs/task.sh",
            workdir=folder,
            args=("--task", str(task)),
            array="0-4",
            log=f"{folder}/logs/%x-%A_%a.out",
            outputs=(OutputCheck(f"{folder}/out/{task}.txt"),),
        )


def test_every_field_reaches_the_spec(tmp_path: Path) -> None:
    text = (
        '[session]\nname = "sess"\n'
        '[clusters.lab]\nbackend = "slurm"\nhost = "login1"\nworkdir = "/scratch/me"\n'
        '[[jobs]]\nname = "j"\nscript = "/opt/run.sh"\narray = "3,1-2%2"\n'
        'args = ["{name}", "{session}", "--task={task}", "{{literal}}"]\n'
        "sbatch = {time = 10, exclusive = true}\n"
        'log = "logs/{x}-%j.out"\nerr = "/abs/%x.err"\n'
        'outputs = [{path = "out/{session}/{name}-{task}.{attempt}", non_empty = true, min_size = 5, '
        f'sha256 = "{"AB" * 32}"}}]\n'
        'restart = {on = ["NODE_FAIL", "exit:137"], max_attempts = 3, backoff = 60, requeue = true}\n'
    )
    definitions = load_and_expand(tmp_path, text)
    assert [d.task for d in definitions] == [1, 2, 3]
    spec = definitions[2].spec
    assert spec.cluster == "lab" and spec.workdir == "/scratch/me"
    assert spec.script == "/opt/run.sh"
    assert spec.args == ("j", "sess", "--task=3", "{literal}")
    assert spec.options == ("--time=10", "--exclusive")
    assert spec.array == "1-3%2"
    assert spec.log == "/scratch/me/logs/{x}-%j.out"  # braces in log are literal
    assert spec.err == "/abs/%x.err"
    assert spec.outputs == (OutputCheck("/scratch/me/out/sess/j-3.{attempt}", True, 5, "ab" * 32),)
    assert spec.restart == RestartPolicy(("NODE_FAIL", "exit:137"), 3, 60.0, True)
    assert expand(spec.outputs[0].path, attempt=2) == "/scratch/me/out/sess/j-3.2"


def test_literal_braces_in_workdir_and_outputs_survive(tmp_path: Path) -> None:
    folder = tmp_path / "odd{dir}"
    folder.mkdir()
    text = (
        '[session]\nname = "s"\n[[jobs]]\nname = "a"\nscript = "x.sh"\noutputs = ["{{raw}}-{attempt}.txt"]\n'
    )
    (output,) = load_and_expand(folder, text)[0].spec.outputs
    assert expand(output.path, attempt=1) == f"{folder.resolve()}/{{raw}}-1.txt"


def test_home_is_expanded_only_on_this_machine(tmp_path: Path) -> None:
    text = (
        '[session]\nname = "s"\n[clusters.here]\nbackend = "local"\n'
        '[[jobs]]\nname = "a"\nscript = "~/bin/x.sh"\nlog = "~/logs/%j.out"\n'
        'outputs = ["~/out/{name}-{attempt}"]\n'
    )
    (definition,) = load_and_expand(tmp_path, text)
    home = os.path.expanduser("~")
    assert definition.spec.script == f"{home}/bin/x.sh"
    assert definition.spec.log == f"{home}/logs/%j.out"
    assert expand(definition.spec.outputs[0].path, attempt=4) == f"{home}/out/a-4"


def test_relative_paths_are_normalised_and_absolute_ones_kept(tmp_path: Path) -> None:
    text = (
        '[session]\nname = "s"\n[clusters.c]\nbackend = "local"\nworkdir = "/w"\n'
        '[[jobs]]\nname = "a"\nscript = "./jobs/../x.sh"\nlog = "/var//log/./%j"\n'
    )
    spec = load_and_expand(tmp_path, text)[0].spec
    assert (spec.script, spec.log) == ("/w/x.sh", "/var//log/./%j")


def test_kubernetes_job_without_script(tmp_path: Path) -> None:
    text = '[session]\nname = "s"\n[clusters.k]\nbackend = "kubernetes"\nworkdir = "/data"\n'
    text += '[[jobs]]\nname = "a"\nimage = "busybox"\ncommand = ["true"]\n'
    spec = load_and_expand(tmp_path, text)[0].spec
    assert (spec.cluster, spec.script, spec.workdir) == ("k", "", "/data")
