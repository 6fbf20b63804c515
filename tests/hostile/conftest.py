"""Fixtures for the hostile-input tests: the helpers shared with tests/faults (the real `jobdeck` on
a database of its own, store snapshots, the figures printed at the end of the run)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "faults"))
from fault_harness import deck_fixture  # noqa: F401 (the `deck` fixture)
