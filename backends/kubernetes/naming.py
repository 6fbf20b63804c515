"""Names Kubernetes accepts for what jobdeck submits: Job names, label values, the labels and
annotations that find a Job again, and the `k8s://` paths that name a container's log.

Labels are for selecting and must be short and plain (63 characters of [A-Za-z0-9._-]); a name that
is not one is shown as a readable slug with a hash of the whole, and the full name travels in an
annotation, which has no such limit.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

MANAGED_BY = "app.kubernetes.io/managed-by"
SESSION = "jobdeck.io/session"  # label (slug) and annotation (full) keys
JOB = "jobdeck.io/job"
TAG = "jobdeck.io/tag"
TASKS = "jobdeck.io/tasks"  # annotation: the task index run by each completion index, "3,5,7"
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"  # set on pods by the job controller
INDEX_LABEL = "batch.kubernetes.io/job-completion-index"

MAX_LABEL = 63
_LABEL_VALUE = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_HASH = 8


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:_HASH]


def label_value(text: str) -> str:
    """`text` itself when it is a valid label value, else a slug of it and a hash of the whole."""
    if len(text) <= MAX_LABEL and _LABEL_VALUE.fullmatch(text):
        return text
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-._")[: MAX_LABEL - _HASH - 1].rstrip("-._")
    return f"{slug}-{_digest(text)}" if slug else _digest(text)


def job_name(name: str, tag: str) -> str:
    """A DNS-1123 label (lower case, digits and '-', at most 63) unique to one submission: the
    job's name as a slug, then the submission tag's own characters (a hash if it has none)."""
    suffix = re.sub(r"[^a-z0-9]", "", tag.rsplit(":", 1)[-1].lower())[:16] or _digest(tag)
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[: MAX_LABEL - len(suffix) - 1].strip("-")
    return f"{slug or 'job'}-{suffix}"


def task_id(job: str, task: int | None) -> str:
    """The ID users see: the Job's name, and "_<task>" for an array task (a Job name has no '_')."""
    return job if task is None else f"{job}_{task}"


LOG_SCHEME = "k8s://"
PREVIOUS = "?previous"


@dataclass(frozen=True, slots=True)
class LogRef:
    """A container's log: `k8s://NAMESPACE/POD/CONTAINER`, with "?previous" for the log of the
    container that ran before the last restart."""

    namespace: str
    pod: str
    container: str
    previous: bool = False

    def __str__(self) -> str:
        return f"{LOG_SCHEME}{self.namespace}/{self.pod}/{self.container}{PREVIOUS if self.previous else ''}"


def parse_log_ref(path: str) -> LogRef | None:
    """The log a `k8s://` path names; None for any other path (a file where outputs live)."""
    if not path.startswith(LOG_SCHEME):
        return None
    rest = path[len(LOG_SCHEME) :]
    previous = rest.endswith(PREVIOUS)
    parts = rest.removesuffix(PREVIOUS).split("/")
    if len(parts) != 3 or not all(parts):
        raise ValueError(f"not a Kubernetes log path (k8s://NAMESPACE/POD/CONTAINER): {path}")
    return LogRef(*parts, previous=previous)
