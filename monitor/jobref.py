"""JOB references on the command line: `name`, `session/name`, `name[3]`, `session/name[3]`, or a
scheduler ID (`123`, `123_4`)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from monitor.errors import InputError
from monitor.model import Job

_REF = re.compile(r"^(?:(?P<session>[^/\[\]]+)/)?(?P<name>[^/\[\]]+?)(?:\[(?P<task>\d+)\])?$")
_SCHEDULER_ID = re.compile(r"^\d+(?:_\d+)?$")


@dataclass(frozen=True, slots=True)
class JobRef:
    text: str
    session: str | None
    name: str
    task: int | None

    @property
    def may_be_scheduler_id(self) -> bool:
        return self.session is None and self.task is None and bool(_SCHEDULER_ID.match(self.name))


def parse_ref(text: str) -> JobRef:
    match = _REF.match(text.strip())
    if not match:
        raise InputError(f"job reference {text!r}: expected NAME, SESSION/NAME, NAME[TASK] or a scheduler ID")
    task = match["task"]
    return JobRef(text, match["session"], match["name"], int(task) if task is not None else None)


def select(ref: JobRef, jobs: Sequence[Job], by_scheduler_id: Sequence[Job] = ()) -> list[Job]:
    """The jobs a reference means: every task of an array for a bare array name. A name found in
    several sessions is an error that says how to pick one."""
    found = [
        j
        for j in jobs
        if j.name == ref.name
        and (ref.session is None or j.session == ref.session)
        and (ref.task is None or j.task == ref.task)
    ]
    if not found and ref.task is None:  # a series' base name means every stage of it
        found = [
            j for j in jobs if j.spec.chain == ref.name and (ref.session is None or j.session == ref.session)
        ]
    if not found and ref.may_be_scheduler_id:
        found = list(by_scheduler_id)
    if not found:
        where = f" in session {ref.session!r}" if ref.session else ""
        raise InputError(f"no job {ref.text!r}{where}")
    sessions = sorted({j.session for j in found})
    if len(sessions) > 1:
        raise InputError(
            f"job {ref.text!r} is in sessions {', '.join(sessions)}: say which, e.g. {sessions[0]}/{ref.name}"
        )
    return found
