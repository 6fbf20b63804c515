"""The user's settings: ~/.config/jobdeck/config.toml (or $JOBDECK_CONFIG).

read_only = false          # no key or command can submit, cancel, restart or resume
[keymap]                   # binding id = key(s); `?` lists every id
"jobs.validate" = "V"
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from monitor.errors import InputError


class UserConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    read_only: bool = False
    keymap: dict[str, str] = {}


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
        return UserConfig()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        return UserConfig.model_validate(data)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: invalid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not valid UTF-8 ({exc.reason})") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise InputError(f"{path}: {where}: {first['msg']}") from None
