"""Errors that reach the user, each with the exit code the CLI returns for it."""

from __future__ import annotations


class JobdeckError(Exception):
    """Base of every error shown to the user as one line; `exit_code` is the CLI's exit status."""

    exit_code = 1


class InputError(JobdeckError):
    """Bad input from the user (manifest, job reference, option): exit 2, nothing changed."""

    exit_code = 2


class BackendUnavailable(JobdeckError):
    """The scheduler or the connection to it did not answer. No job changes state because of it."""


class NotSent(BackendUnavailable):
    """The connection failed before the submission was sent: nothing can have been submitted."""


class SchedulerRejected(JobdeckError):
    """The scheduler answered and refused (e.g. sbatch exited non-zero): nothing was submitted."""


class StoreError(JobdeckError):
    """The session database cannot be used (corrupt, newer schema, disk full, permissions)."""


class ChangedMeanwhile(JobdeckError):
    """Another jobdeck process changed a job between this one reading it and acting on it (e.g. both
    restarting it): nothing was sent; read the job again and decide."""
