"""The user's settings: ~/.config/jobdeck/config.toml (or $JOBDECK_CONFIG).

read_only = false          # no key or command can submit, cancel, restart or resume
[keymap]                   # binding id = key(s); `?` lists every id
"jobs.validate" = "V"
[queue]                    # "My jobs": every job of the user on the clusters below
history = 24               # hours of finished jobs listed
columns = ["name", "state", "partition", "time_left"]   # chosen with the column picker
[clusters.lab]             # the same keys as a manifest's [clusters.NAME]
backend = "slurm"
host = "login.lab.example.org"
[adopted.train-resnet]     # an adopted job, by its name: its outputs ({task} for array tasks),
outputs = ["model.pt"]     # declared by `jobdeck adopt JOBID` (at adoption, or again later)
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monitor.errors import InputError
from monitor.queue import DEFAULT_HISTORY_HOURS


@dataclass(frozen=True, slots=True)
class UserConfig:
    read_only: bool = False
    keymap: dict[str, str] = field(default_factory=dict)
    clusters: dict[str, dict[str, Any]] = field(default_factory=dict)  # checked by tui.queue_clusters
    history_hours: float = DEFAULT_HISTORY_HOURS
    columns: tuple[str, ...] = ()  # the queue table's columns; () for the default set
    path: Path | None = None  # the file read, if any
    adopted_outputs: dict[str, tuple[str, ...]] = field(default_factory=dict)  # by adopted job name


def config_path() -> Path:
    explicit = os.environ.get("JOBDECK_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "jobdeck" / "config.toml"


def load_config(path: Path | None = None) -> UserConfig:
    """Missing file: defaults. A bad file: one line naming it and the field."""
    path = path or config_path()
    if not path.exists():
        return UserConfig(path=path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: invalid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not valid UTF-8 ({exc.reason})") from None
    return _validated(path, data)


def _validated(path: Path, data: dict[str, Any]) -> UserConfig:
    """The file's settings checked by pydantic, imported only here: most users have no file, and
    every command reads this, so the command line does not pay for pydantic without one."""
    from pydantic import BaseModel, ConfigDict, Field, ValidationError

    class Queue(BaseModel):
        model_config = ConfigDict(extra="forbid")

        history: float = Field(DEFAULT_HISTORY_HOURS, gt=0)
        columns: list[str] = []

    class Adopted(BaseModel):
        model_config = ConfigDict(extra="forbid")

        outputs: list[str] = Field(min_length=1)

    class Schema(BaseModel):
        model_config = ConfigDict(extra="forbid")

        read_only: bool = False
        keymap: dict[str, str] = {}
        queue: Queue = Queue()
        clusters: dict[str, dict[str, Any]] = {}
        adopted: dict[str, Adopted] = {}

    try:
        checked = Schema.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise InputError(f"{path}: {where}: {first['msg']}") from None
    queue = checked.queue
    adopted = {name: tuple(table.outputs) for name, table in checked.adopted.items()}
    return UserConfig(
        checked.read_only,
        checked.keymap,
        checked.clusters,
        queue.history,
        tuple(queue.columns),
        path,
        adopted,
    )
