"""Chains in the manifest: `after` names the jobs a job waits for, and `repeat = {var, range}` turns a
job into a series of stages NAME-V (one per value V), each after the previous one and each given
its value through the `args` and `outputs` templates ({var} and {var_count}).

Checked here: every `after` names a job (a series' base name means its last stage), no cycles, no
stage name taken twice. Pure; works on the manifest's job models through `model_copy`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from monitor.arrays import parse_array
from monitor.templates import expand

KEPT = ("task", "name", "session", "attempt")


@dataclass(frozen=True, slots=True)
class Stage:
    """Where a generated stage sits: its series (the `repeat` job's name), index and count."""

    chain: str
    index: int
    count: int


class ChainError(ValueError):
    """A chain mistake at jobs[index].field; the manifest reports it with the file's name."""

    def __init__(self, index: int, field: str, message: str) -> None:
        super().__init__(message)
        self.index = index
        self.field = field
        self.message = message


def _series(index: int, job: Any) -> list[tuple[Any, Stage]]:
    """The stages of a `repeat` job, templates filled with the stage's value."""
    values = parse_array(job.repeat.range).indices  # already checked: non-empty, ascending
    var = job.repeat.var
    stages: list[tuple[Any, Stage]] = []
    for position, value in enumerate(values):
        filled = {var: value, f"{var}_count": len(values)}
        try:
            args = [expand(a, keep=KEPT, **filled) for a in job.args]
            outputs = [
                o.model_copy(update={"path": expand(o.path, keep=KEPT, **filled)}) for o in job.outputs
            ]
        except ValueError as error:
            raise ChainError(index, "repeat", str(error)) from None
        after = list(job.after) if position == 0 else [stages[-1][0].name]
        stage = job.model_copy(
            update={
                "name": f"{job.name}-{value}",
                "args": args,
                "outputs": outputs,
                "after": after,
                "repeat": None,
            }
        )
        stages.append((stage, Stage(job.name, position, len(values))))
    return stages


def expand_chains(jobs: Sequence[Any]) -> tuple[list[Any], dict[str, Stage]]:
    """Jobs with each series expanded in place, and where each generated stage sits."""
    expanded: list[tuple[int, Any]] = []
    stages: dict[str, Stage] = {}
    last_stage: dict[str, str] = {}
    for index, job in enumerate(jobs):
        if job.repeat is None:
            expanded.append((index, job))
            continue
        series = _series(index, job)
        for stage, place in series:
            expanded.append((index, stage))
            stages[stage.name] = place
        last_stage[job.name] = series[-1][0].name
    names: dict[str, int] = {}
    for index, job in expanded:
        if job.name in names and names[job.name] != index:
            raise ChainError(
                index, "name", f"{job.name!r} is also a stage of jobs[{names[job.name] + 1}]'s repeat"
            )
        names[job.name] = index
    resolved = []
    for index, job in expanded:
        after = []
        for upstream in job.after:
            target = last_stage.get(upstream, upstream)
            if target not in names:
                raise ChainError(index, "after", f"names no job: {upstream!r}")
            after.append(target)
        resolved.append(job.model_copy(update={"after": after}) if after != list(job.after) else job)
    _check_cycles(resolved, {job.name: index for index, job in expanded})
    return resolved, stages


def _check_cycles(jobs: Sequence[Any], index_of: dict[str, int]) -> None:
    edges = {job.name: list(job.after) for job in jobs}
    done: set[str] = set()
    for start in edges:
        path: list[str] = []
        on_path: set[str] = set()
        stack: list[tuple[str, int]] = [(start, 0)]
        while stack:
            name, position = stack.pop()
            if position == 0:
                if name in done:
                    continue
                if name in on_path:
                    cycle = " -> ".join([*path[path.index(name) :], name])
                    raise ChainError(index_of[name], "after", f"cycle: {cycle}")
                path.append(name)
                on_path.add(name)
            upstream = edges.get(name, [])
            if position < len(upstream):
                stack.append((name, position + 1))
                stack.append((upstream[position], 0))
            else:
                path.pop()
                on_path.discard(name)
                done.add(name)
