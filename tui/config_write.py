"""Writing a setting back to the user's config file, keeping their comments, order and other
settings (tomlkit edits the document as written, where tomllib only reads values)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from monitor.errors import InputError


def save_queue_columns(path: Path, columns: Sequence[str]) -> None:
    """Set `[queue] columns` in the file at `path` (created with only that when missing); the file
    is replaced at once, so a crash leaves the old one or the new one."""
    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    try:
        document = tomlkit.parse(path.read_text(encoding="utf-8")) if path.exists() else tomlkit.document()
        queue = document.get("queue")
        if queue is None:
            queue = document["queue"] = tomlkit.table()
        queue["columns"] = list(columns)
        path.parent.mkdir(parents=True, exist_ok=True)
        spare = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        spare.write_text(tomlkit.dumps(document), encoding="utf-8")
        spare.replace(path)
    except (OSError, UnicodeDecodeError, TOMLKitError) as exc:
        raise InputError(f"cannot save the columns in {path}: {exc}") from None
