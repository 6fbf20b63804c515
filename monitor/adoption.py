"""Adoption: a job submitted outside jobdeck (plain `sbatch`) becomes a logical job of a session.
What the scheduler still knows of how it was submitted is captured once, by the backend's Adopter
capability, into a JobSpec a restart can submit again."""

from __future__ import annotations

from dataclasses import dataclass

from monitor.model import JobSpec

ADOPT_KIND = "adopt"
"""The kind of an adopted job's first attempt and of its submission row."""


@dataclass(frozen=True, slots=True)
class Captured:
    """One adopted scheduler job (a plain job, an array, or one task of one) as captured."""

    job_id: str  # as the user named it: "123", or "123_4" for one task
    name: str  # the scheduler's job name: the logical job's name
    tasks: tuple[tuple[int | None, str], ...]  # (array index or None, the task's scheduler ID)
    spec: JobSpec  # what a restart submits: the kept script, its arguments, work dir, logs, options
    script_copy: str | None  # where the batch script was kept on the cluster; None: not recovered
    notes: tuple[str, ...] = ()  # what could not be recovered exactly, one line each
