"""Fixtures for the hostile-input tests: the helpers shared with tests/faults (the real `jobdeck` on
a database of its own, store snapshots, the figures printed at the end of the run)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "faults"))
import fault_harness
from fault_harness import deck_fixture  # noqa: F401 (the `deck` fixture)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    fault_harness.print_summary(terminalreporter)
