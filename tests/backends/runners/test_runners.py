"""Behaviour both runners share: literal arguments, env, stdin, exit codes, timeouts."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backends.runners.base import Runner
from monitor.errors import BackendUnavailable


def nul_separated(args: list[str]) -> bytes:
    return b"".join(arg.encode() + b"\0" for arg in args)


async def test_shell_syntax_arrives_literally(runner: Runner, tmp_path: Path) -> None:
    canary = tmp_path / "CANARY"
    args = [
        "two words",
        'it\'s "quoted"',
        "line one\nline two",
        f"; touch {canary}",
        f"$(touch {canary})",
        f"`touch {canary}`",
        f"| touch {canary}",
        f"& touch {canary} &",
        "*",
        "~",
        "$HOME ${PATH}",
        "\\back\\slash",
        "héllo wörld ✓ 日本",
        "",
        "-n",
        "%s %d",
    ]
    result = await runner.run(["printf", "%s\\0", *args], timeout=10)
    assert result.ok, result.error_text()
    assert result.stdout == nul_separated(args)
    assert not canary.exists()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(args=st.lists(st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\0")), min_size=1))
async def test_any_text_arguments_round_trip(runner: Runner, args: list[str]) -> None:
    result = await runner.run(["printf", "%s\\0", *args], timeout=10)
    assert result.stdout == nul_separated(args)


async def test_env_is_passed_literally(runner: Runner, tmp_path: Path) -> None:
    canary = tmp_path / "CANARY"
    value = f"a b 'c' $(touch {canary}) \"d\""
    result = await runner.run(
        ["printenv", "JOBDECK_TEST_VALUE"], env={"JOBDECK_TEST_VALUE": value}, timeout=10
    )
    assert result.stdout == value.encode() + b"\n"
    assert not canary.exists()


async def test_input_is_fed_to_stdin(runner: Runner) -> None:
    data = bytes(range(256)) * 40 + b"\nend"
    result = await runner.run(["cat"], input=data, timeout=10)
    assert result.stdout == data


async def test_stdin_is_empty_without_input(runner: Runner) -> None:
    result = await runner.run(["cat"], timeout=10)
    assert (result.returncode, result.stdout) == (0, b"")


async def test_non_zero_exit_is_a_result(runner: Runner) -> None:
    result = await runner.run(["sh", "-c", "echo out; echo err >&2; exit 3"], timeout=10)
    assert (result.returncode, result.stdout, result.stderr) == (3, b"out\n", b"err\n")
    assert not result.ok
    assert result.error_text() == "err"


async def test_missing_executable_gives_127(runner: Runner) -> None:
    result = await runner.run(["jobdeck-no-such-command", "arg"], timeout=10)
    assert result.returncode == 127
    assert b"jobdeck-no-such-command" in result.stderr
    assert b"not found" in result.stderr


async def test_timeout_raises_promptly(runner: Runner) -> None:
    started = time.monotonic()
    with pytest.raises(BackendUnavailable, match=r"sleep 30 .*0\.5 s"):
        await runner.run(["sleep", "30"], timeout=0.5)
    assert time.monotonic() - started < 5
