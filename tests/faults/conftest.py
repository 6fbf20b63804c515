"""Fixtures for the fault-injection tests: the real `jobdeck` on a database of its own, reaching the
real cluster directly or through the loopback sshd (tests/faults/fault_harness.py), and the
figures printed at the end of the run."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fault_harness import Deck, Transport, deck_fixture  # noqa: F401 (deck_fixture: the `deck` fixture)


@pytest.fixture
def slurm_deck(deck: Deck, slurm_conf: str) -> Deck:
    """jobdeck reaching the cluster on this machine."""
    deck.env.update(Transport("local", {"SLURM_CONF": slurm_conf}).env)
    return deck


@pytest.fixture
def both_deck(deck: Deck, slurm_conf: str, ssh_config: Path) -> Deck:
    """jobdeck reaching the cluster both on this machine and through the loopback sshd."""
    deck.env.update({"SLURM_CONF": slurm_conf, "JOBDECK_SSH_CONFIG": str(ssh_config)})
    return deck


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs mounted for the test (root only), unmounted at the end whatever happened."""
    if os.geteuid() != 0:
        message = "mounting a small tmpfs needs root"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message} (CI=true: the disk-full test must run)")
        pytest.skip(message)
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m,mode=0755", "tmpfs", str(mount)], check=True, timeout=30
    )
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True, timeout=30)
