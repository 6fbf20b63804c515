"""A hostile job log in the log screen, read on this machine and over SSH: escape sequences that try
to set the title, clear the screen or move the cursor, C1 controls, NUL bytes, invalid UTF-8 (bad
starts, overlong forms, lone continuations, surrogates) and a single 10 MB line. Every line is shown
with the escapes neutralised, the long line cut with a note of what was left out, the lines after it
shown too, and the memory the whole read takes stays well under the size of the log."""

from __future__ import annotations

import re
import tracemalloc
from pathlib import Path

import pytest
from fault_harness import TESTS, load_module, record

from backends.local.backend import LocalBackend
from backends.runners.files import RemoteFiles
from backends.runners.ssh import SshRunner
from tui.screens.log_source import LogAttempt, LogSource

pilot_tests = load_module(TESTS / "tui" / "test_log_view_pilot.py", "jobdeck_log_view_pilot")
MB = 1024 * 1024
HOSTILE = [
    b"\x1b]0;pwned title\x07title",
    b"\x1b]2;pwned again\x1b\\title again",
    b"\x1b[2J\x1b[Hcleared",
    b"\x1b[999;999Hmoved\x1b[A\x1b[K up",
    b"\x1bP+q544e\x1b\\dcs",
    b"\xc2\x9b31m c1 \xc2\x9d0;pwned\xc2\x9c",
    b"nul \x00 inside",
    b"bad \xff\xfe start",
    b"overlong \xc0\xaf slash",
    b"lone \x80\xbf continuation",
    b"surrogate \xed\xa0\x80 half",
]
LONG = b"x" * (10 * MB)


@pytest.fixture(params=["local", "ssh"])
async def read(request: pytest.FixtureRequest, tmp_path: Path):
    if request.param == "local":
        yield LocalBackend("local", tmp_path / "state").read_bytes
        return
    runner = SshRunner("jobdeck-test", config_paths=[request.getfixturevalue("ssh_config")])
    yield RemoteFiles(runner).read_bytes
    await runner.close()


async def test_a_hostile_log_is_shown_safely_in_bounded_memory(read, tmp_path: Path) -> None:
    path = tmp_path / "hostile.out"
    path.write_bytes(b"\n".join(HOSTILE) + b"\n")
    source = LogSource("hostile", [LogAttempt(1, "1", str(path), None)], read)
    tracemalloc.start()
    try:
        async with pilot_tests.running(source) as (app, pilot):
            await pilot_tests.until(pilot, lambda: len(app.body.lines) == len(HOSTILE), "every line", 30)
            texts = [line.text for line in app.body.lines]
            rendered = "".join(s.text for y in range(app.body.size.height) for s in app.body.render_line(y))
            with path.open("ab") as log:  # a 10 MB line written while the view follows
                log.write(LONG)  # (not LONG + ...: a copy of it would count against the view)
                log.write(b"\nafter the long line\n")
            await pilot_tests.until(
                pilot, lambda: app.body.lines[-1].text == "after the long line", "the end", 60
            )
            _, peak = tracemalloc.get_traced_memory()
            tail = [line.text for line in app.body.lines[len(HOSTILE) :]]
    finally:
        tracemalloc.stop()
    record(
        "hostile log lines",
        f"peak {peak / MB:.1f} MB while a 10 MB line was read",
        bad_inputs=len(HOSTILE) + 1,
    )
    assert texts[:4] == ["title", "title again", "cleared", "moved up"], texts
    assert not [t for t in texts if re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]", t)], texts
    assert texts[5] == "\\x9b31m c1 \\x9d0;pwned\\x9c", texts[5]  # C1 controls shown as inert text
    assert "pwned" not in "".join(texts[:5]) and not re.search(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]", rendered)
    assert sum(len(t) for t in tail) < 100_000 and tail[-1] == "after the long line", [t[-80:] for t in tail]
    assert peak < 8 * MB, f"peak {peak / MB:.1f} MB for a 10 MB line"
