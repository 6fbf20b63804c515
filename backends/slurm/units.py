"""SLURM's durations, sizes and trackable resources as numbers. Like the parsers, these never raise:
a value that cannot be read is None, so one odd field never hides a job."""

from __future__ import annotations

import re

_DURATION = re.compile(r"(?:([0-9]{1,6})-)?(?:([0-9]{1,6}):)?([0-9]{1,6}):([0-9]{1,6})(?:\.([0-9]{1,6}))?")
_SIZE = re.compile(r"([0-9]{1,18}(?:\.[0-9]{1,9})?)([KMGTP]?)", re.IGNORECASE)
_REQ_MEM = re.compile(r"([0-9]{1,18}(?:\.[0-9]{1,9})?[KMGTP]?)([cn]?)", re.IGNORECASE)
_GPU = re.compile(r"gres/gpu(:[^=,]*)?=([0-9]{1,9})")
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40, "P": 1 << 50}


def duration(text: str | None) -> float | None:
    """Seconds of `[D-][HH:]MM:SS[.mmm]` (squeue's TimeLimit, sacct's TotalCPU); a day count alone
    ("2-00" is not printed, but "1-02:03:04" is); None for UNLIMITED, NOT_SET, INVALID or garbage.
    A bare number is minutes, as SLURM reads `--time`."""
    text = (text or "").strip()
    if text.isascii() and text.isdigit() and len(text) <= 9:
        return float(int(text) * 60)
    match = _DURATION.fullmatch(text)
    if match is None:
        return None
    days, hours, minutes, seconds, fraction = match.groups()
    total = int(days or 0) * 86400 + int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds)
    return total + (float(f"0.{fraction}") if fraction else 0.0)


def size_bytes(text: str | None, default_unit: str = "") -> int | None:
    """Bytes of a size with SLURM's binary suffixes ("117316K", "4000M", "1.5G", "0"); a figure
    without a suffix is in `default_unit` (MaxRSS is in bytes, a TRES mem= in megabytes)."""
    match = _SIZE.fullmatch((text or "").strip())
    if match is None:
        return None
    figure, unit = match.groups()
    return int(float(figure) * _UNITS[(unit or default_unit).upper()])


def requested_memory(text: str | None, cpus: int | None, nodes: int | None) -> int | None:
    """The whole job's memory in bytes from sacct's ReqMem: SLURM before 21.08 appends "c" (per
    CPU) or "n" (per node); later versions print the job's figure plainly. Megabytes by default."""
    match = _REQ_MEM.fullmatch((text or "").strip())
    if match is None:
        return None
    figure, per = match.groups()
    each = size_bytes(figure, "M")
    if each is None:
        return None
    per = per.lower()
    if per == "c":
        return each * cpus if cpus else None
    if per == "n":
        return each * nodes if nodes else None
    return each


def tres_gpus(tres: str | None) -> int | None:
    """GPUs in a TRES list ("cpu=2,gres/gpu=2" or typed "gres/gpu:a100=2"): the untyped total when
    listed (SLURM lists it beside the typed counts), else the sum of the typed ones; None when the
    list names no GPU."""
    counts = _GPU.findall(tres or "")
    if not counts:
        return None
    untyped = [int(n) for kind, n in counts if not kind]
    return untyped[0] if untyped else sum(int(n) for _, n in counts)


def tres_memory(tres: str | None) -> int | None:
    """The `mem=` of a TRES list in bytes (megabytes without a suffix), None when absent."""
    for item in (tres or "").split(","):
        key, _, value = item.partition("=")
        if key.strip() == "mem":
            return size_bytes(value, "M")
    return None
