"""The batch script jobdeck gives sbatch, executed for real with /bin/sh as a SLURM node would run it."""

from __future__ import annotations

import os
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backends.slurm.commands import render_batch_script, sbatch_header
from monitor.model import SubmitRequest, TaskSpec

ECHO = '#!/bin/sh\nfor arg in "$@"; do printf \'%s\\0\' "$arg"; done\n'


def nasty_args(tmp_path: Path) -> tuple[str, ...]:
    return (
        "two words", "it's", 'say "hi"', "line one\nline two", "a;b", "a | b && c", "*", "",
        f"$(touch {tmp_path}/canary)", f"`touch {tmp_path}/canary`", "$HOME", "-n", "\\back\\slash", "ünï",
    )  # fmt: skip


@pytest.fixture
def echo_script(tmp_path: Path) -> Path:
    """A script that prints its arguments NUL-separated, in a directory and file name that need quoting."""
    folder = tmp_path / "my dir $(touch canary)"
    folder.mkdir()
    script = folder / "it's `echo` here.sh"
    script.write_text(ECHO)
    script.chmod(0o755)
    return script


def request_for(script: Path, tasks: tuple[TaskSpec, ...], is_array: bool) -> SubmitRequest:
    return SubmitRequest(
        session="s",
        name="n",
        tag="t",
        script=str(script),
        workdir=str(script.parent),
        tasks=tasks,
        is_array=is_array,
    )


def run(rendered: str, tmp_path: Path, task: int | None = None) -> subprocess.CompletedProcess[bytes]:
    batch = tmp_path / "batch.sh"
    batch.write_text(rendered)
    env = {"PATH": os.environ["PATH"], "HOME": "/nonexistent"}
    if task is not None:
        env["SLURM_ARRAY_TASK_ID"] = str(task)
    return subprocess.run(["/bin/sh", str(batch)], capture_output=True, env=env, cwd=tmp_path, timeout=10)


def args_of(result: subprocess.CompletedProcess[bytes]) -> list[str]:
    assert result.returncode == 0, result.stderr
    return result.stdout.decode().split("\0")[:-1]


def test_plain_job_gets_its_arguments_literally(tmp_path, echo_script):
    args = nasty_args(tmp_path)
    rendered = render_batch_script(request_for(echo_script, (TaskSpec(None, args),), is_array=False))
    assert args_of(run(rendered, tmp_path)) == list(args)
    assert not list(tmp_path.rglob("canary"))


def test_array_tasks_get_their_own_arguments(tmp_path, echo_script):
    args = nasty_args(tmp_path)
    tasks = (TaskSpec(7, args[:5]), TaskSpec(0, args[5:]), TaskSpec(3, ()))
    rendered = render_batch_script(request_for(echo_script, tasks, is_array=True))
    for task in tasks:
        assert args_of(run(rendered, tmp_path, task.index)) == list(task.args)
    assert not list(tmp_path.rglob("canary"))


def test_array_task_that_was_not_requested_fails_loudly(tmp_path, echo_script):
    rendered = render_batch_script(request_for(echo_script, (TaskSpec(1, ("x",)),), is_array=True))
    result = run(rendered, tmp_path, task=2)
    assert result.returncode == 2 and result.stdout == b""
    assert b"array task 2 has no arguments" in result.stderr


def test_script_that_is_not_executable_runs_with_sh(tmp_path, echo_script):
    echo_script.chmod(0o644)
    rendered = render_batch_script(request_for(echo_script, (TaskSpec(None, ("a b", "c")),), is_array=False))
    assert args_of(run(rendered, tmp_path)) == ["a b", "c"]


def test_exit_status_of_the_script_is_the_job_s(tmp_path, echo_script):
    echo_script.write_text("#!/bin/sh\nexit 7\n")
    rendered = render_batch_script(request_for(echo_script, (TaskSpec(None, ()),), is_array=False))
    assert run(rendered, tmp_path).returncode == 7


def test_header_is_where_sbatch_reads_it(echo_script):
    user_script = "#!/bin/bash\n# train\n#SBATCH --time=5\n#SBATCH --mem=1G\necho\n#SBATCH --late\n"
    header = sbatch_header(user_script)
    rendered = render_batch_script(request_for(echo_script, (TaskSpec(None, ()),), is_array=False), header)
    assert rendered.startswith("#!/bin/sh\n#SBATCH --time=5\n#SBATCH --mem=1G\n")
    assert sbatch_header(rendered) == header == ["#SBATCH --time=5", "#SBATCH --mem=1G"]


def test_nul_bytes_are_refused(echo_script):
    with pytest.raises(ValueError, match="NUL"):
        render_batch_script(request_for(echo_script, (TaskSpec(None, ("a\0b",)),), is_array=False))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\0"), max_size=20), max_size=6
    )
)
def test_any_arguments_arrive_unchanged(tmp_path, echo_script, args):
    request = request_for(echo_script, (TaskSpec(4, tuple(args)), TaskSpec(5, ("other",))), is_array=True)
    assert args_of(run(render_batch_script(request), tmp_path, task=4)) == args
    plain = replace(request, tasks=(TaskSpec(None, tuple(args)),), is_array=False)
    assert args_of(run(render_batch_script(plain), tmp_path)) == args
