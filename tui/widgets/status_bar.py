"""The bottom line: each cluster's connection health and last successful poll, and whether the
table is stale because the last poll failed."""

from __future__ import annotations

import time
from collections.abc import Mapping

from rich.text import Text
from textual.widgets import Static

from monitor.controller import ClusterHealth


def _at(epoch: float | None) -> str:
    return time.strftime("%H:%M:%S", time.localtime(epoch)) if epoch else "never"


def status_text(health: Mapping[str, ClusterHealth], extra: str = "") -> Text:
    text = Text()
    if not health:
        text.append("waiting for the first poll", style="dim")
    for name, h in sorted(health.items()):
        if text:
            text.append("  │  ")
        if h.ok:
            text.append("● ", style="green")
            text.append(f"{name} ok, polled {_at(h.last_ok)}")
            if h.commands:
                text.append(f" ({len(h.commands)} cmd, {h.seconds:.2f} s)", style="dim")
        else:
            text.append("✖ ", style="bold red")
            text.append(f"{name} unreachable, table stale since {_at(h.last_ok)}: ", style="bold red")
            text.append(h.error or "no answer", style="red")
    if extra:
        text.append("  │  ")
        text.append(extra, style="yellow")
    return text


class StatusBar(Static):
    """One line high: a new text needs no new layout, and the same text again changes nothing."""

    def show(self, health: Mapping[str, ClusterHealth], extra: str = "") -> None:
        text = status_text(health, extra)
        if text != self.content:
            self.update(text, layout=False)
