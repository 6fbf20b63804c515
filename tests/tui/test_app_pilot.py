"""The whole app driven by Pilot over a real session store and real local processes: every key and
screen, what each does to the store and to the processes, and what the user is told."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest
import queue_fixture  # on sys.path through this folder's conftest.py
from textual.command import CommandPalette
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, OptionList, ProgressBar

from backends.local.backend import LocalBackend
from backends.registry import load_manifest
from monitor.expand import expand_manifest
from monitor.model import SubmitResult
from monitor.restart import restart
from monitor.states import State
from store.session_store import SessionStore
from tui.config import UserConfig
from tui.keys import ALL_KEYS
from tui.screens.confirm_screen import ConfirmScreen, PromptScreen
from tui.screens.help_screen import HelpScreen
from tui.screens.jobs_screen import JobsScreen
from tui.screens.log_screen import LogScreen
from tui.screens.queue_screen import QueueScreen
from tui.screens.sessions_screen import SessionsScreen
from tui.widgets.job_table import JobTable
from tui.widgets.log_view import LogView
from tui.wiring import close_controller, open_controller

SIZE = (150, 40)


async def opened(app, pilot: Pilot) -> None:
    """Wait until the jobs screen shows its rows."""
    await app.until(lambda: isinstance(app.screen, JobsScreen) and app.rows(), "the jobs table")
    await pilot.pause()


def state_of(app, name: str) -> str:
    """The STATE cell of a plain job's row."""
    row = app.row(name)
    assert row is not None, f"no row {name}: {app.rows()}"
    return row[1]


def name_of(row: list[str]) -> str:
    return row[1] if row[0] in ("▸", "▾") else row[0]


def dialog_text(app) -> str:
    assert isinstance(app.screen, ConfirmScreen), f"no confirmation dialog but {app.screen}"
    return f"{app.screen.title_text}\n{app.screen.body}"


def status(app) -> str:
    return app.static_text("#status")


def detail(app) -> str:
    return app.static_text("#detail-body")


# -- sessions ---------------------------------------------------------------------------------------


async def test_sessions_screen_lists_counts_and_enter_opens_a_session(live, make_app) -> None:
    other = live.folder / "other.toml"
    other.write_text(live.manifest.read_text().replace('name = "live"', 'name = "other"'))
    store = await SessionStore.open(live.db)
    await store.ensure_session("other", str(other), load_manifest(other).to_dict(), time.time())
    await store.close()
    app = make_app(live.db, polling=False)
    async with app.run_test(size=SIZE) as pilot:
        await app.until(lambda: isinstance(app.screen, SessionsScreen), "the sessions screen")
        table = app.screen.query_one(DataTable)
        await app.until(lambda: table.row_count == 2, "two sessions")
        name, total, states, _when, _monitor, manifest = table.get_row("live")
        assert (name, total, manifest) == ("live", "7", str(live.manifest))
        assert states == "·pending 1 ▶running 1 ✔succeeded 3 ✖failed 2"
        assert table.get_row("other")[1:3] == ["0", ""]  # registered, no job tracked yet
        await pilot.press("enter")  # the cursor starts on the first session: live
        await opened(app, pilot)
        assert app.screen.session == "live"
        assert "jobdeck — live" in app.screen_lines()[0]
        await pilot.press("escape")
        await app.until(lambda: isinstance(app.screen, SessionsScreen), "the sessions screen again")
        await pilot.press("down", "enter")
        await app.until(lambda: isinstance(app.screen, JobsScreen), "the other session")
        assert app.screen.session == "other" and app.rows() == []


async def test_escape_returns_from_a_session_opened_at_start(live, make_app) -> None:
    app = make_app(live.db, live.session, polling=False)
    async with app.run_test(size=SIZE) as pilot:
        await opened(app, pilot)
        await pilot.press("escape")
        await app.until(lambda: isinstance(app.screen, SessionsScreen), "the sessions screen")
        assert app.screen.query_one(DataTable).row_count == 1


async def test_capital_s_returns_to_the_sessions(live, make_app) -> None:
    app = make_app(live.db, live.session, polling=False)
    async with app.run_test(size=SIZE) as pilot:
        await opened(app, pilot)
        await pilot.press("S")
        await app.until(lambda: isinstance(app.screen, SessionsScreen), "the sessions screen", timeout=2)


# -- the live table ---------------------------------------------------------------------------------


async def test_rows_update_in_place_and_the_cursor_stays_on_its_job(live, make_app) -> None:
    await live.add_job("quick", ["0", "-", "1.5"])
    app = make_app(live.db, live.session, polling=True)
    async with app.run_test(size=SIZE) as pilot:
        await opened(app, pilot)
        assert state_of(app, "quick") in ("QUEUED", "RUNNING")
        await app.goto(pilot, "live/sleeper")
        before = [name_of(row) for row in app.rows()]
        await app.until(lambda: state_of(app, "quick") == "SUCCEEDED", "quick to finish", timeout=20)
        assert [name_of(row) for row in app.rows()] == before  # same rows, same order: updated in place
        assert app.table.cursor_key == "live/sleeper"
        assert "live/sleeper  RUNNING" in detail(app)
        assert "here ok, polled" in status(app)
        await pilot.press("o")  # sort by name: the sleeper moves, the cursor goes with it
        names = [name_of(row) for row in app.rows()]
        assert names == sorted(names) and names != before
        assert app.table.cursor_key == "live/sleeper"
        await pilot.press("down")
        assert app.table.cursor_key == f"live/{names[names.index('sleeper') + 1]}"


async def test_array_group_row_counts_states_and_enter_unfolds_it(live, make_app) -> None:
    app = make_app(live.db, live.session, polling=False)
    async with app.run_test(size=SIZE) as pilot:
        await opened(app, pilot)
        assert app.row("▸", "sweep")[2:6] == ["3", "PARTIAL", "✔2", "✖1"]
        assert app.row("sweep") is None  # tasks folded away
        await app.goto(pilot, "live/sweep")
        await pilot.press("enter")
        assert app.row("▾", "sweep") is not None
        assert [app.row("sweep", str(t))[2] for t in range(3)] == ["SUCCEEDED", "FAILED", "SUCCEEDED"]
        await pilot.press("down", "down")
        assert app.table.cursor_key == "live/sweep[1]"
        await app.until(lambda: "live/sweep[1]  FAILED" in detail(app), "the task's details")
        assert "missing:" in detail(app) and "out/sweep-1.txt" in detail(app)
        await pilot.press("up", "up", "enter")
        assert app.row("▸", "sweep") is not None and app.row("sweep", "0") is None


async def test_a_hides_and_shows_finished_jobs(live, make_app) -> None:
    app = make_app(live.db, live.session, polling=False)
    async with app.run_test(size=SIZE) as pilot:
        await opened(app, pilot)
        await pilot.press("a")
        await app.until(lambda: len(app.rows()) == 2, "only unfinished jobs")
        assert [row[0] for row in app.rows()] == ["sleeper", "later"]
        assert "5 finished hidden (a)" in status(app)
        await pilot.press("a")
        await app.until(lambda: len(app.rows()) == 5, "every job again")
        assert "hidden" not in status(app)


async def test_slash_filters_by_name_state_and_reason(live, make_app) -> None:
    app = make_app(live.db, live.session, polling=False)
    async with app.run_test(size=SIZE) as pilot:
        await opened(app, pilot)
        box = app.screen.query_one("#filter", Input)
        await pilot.press("slash")
        assert box.display and box.has_focus
        await pilot.press(*"broken")
        assert [row[0] for row in app.rows()] == ["broken"]
        await pilot.press("enter")  # keeps the filter, back to the table
        assert app.table.has_focus and box.display
        box.value = "state:failed"
        await pilot.pause()
        assert [row[:2] for row in app.rows()] == [["broken", "FAILED"], ["▾", "sweep"], ["sweep", "1"]]
        box.value = "reason:expected"  # sweep[1]: "no expected output found (0/1)"
        await pilot.pause()
        assert [row[:2] for row in app.rows()] == [["▾", "sweep"], ["sweep", "1"]]
        await pilot.press("escape")  # clears the filter first
        assert not box.display and box.value == ""
        assert len(app.rows()) == 5
        assert isinstance(app.screen, JobsScreen)


async def test_space_marks_rows_and_cancel_applies_to_every_marked_job(live, make_app) -> None:
    await live.add_job("sleeper2", ["0", "-", "300"])
    app = make_app(live.db, live.session, polling=False)
    async with app.run_test(size=SIZE) as pilot:
        await opened(app, pilot)
        await app.goto(pilot, "live/sleeper")
        await pilot.press("space")
        await app.goto(pilot, "live/sleeper2")
        await pilot.press("space")
        assert app.table.marked == {"live/sleeper", "live/sleeper2"}
        assert app.marked_rows() == ["sleeper", "sleeper2"]
        await app.goto(pilot, "live/ok")  # the marks, not the cursor, say what is cancelled
        await pilot.press("c")
        await app.until(lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        text = dialog_text(app)
        assert text.startswith("Cancel 2 job(s)?")
        assert "live/sleeper  " in text and "live/sleeper2  " in text and "live/ok" not in text
        await pilot.press("y")
        await app.until(
            lambda: state_of(app, "sleeper") == state_of(app, "sleeper2") == "CANCELLED",
            "both sleepers cancelled",
            timeout=20,
        )
    jobs = await live.jobs()
    assert jobs["sleeper"].state is jobs["sleeper2"].state is State.CANCELLED
    assert jobs["ok"].state is State.SUCCEEDED


# -- logs -------------------------------------------------------------------------------------------


async def test_l_shows_the_log_and_o_p_choose_stream_and_attempt(live, make_app) -> None:
    store = await SessionStore.open(live.db)
    try:
        controller = await open_controller(store, live.session)
        try:
            await restart(controller, [j for j in await store.jobs(live.session) if j.name == "broken"])
        finally:
            await close_controller(controller)
    finally:
        await store.close()
    app = make_app(live.db, live.session, polling=True)
    async with app.run_test(size=SIZE) as pilot:
        await opened(app, pilot)
        await app.until(lambda: state_of(app, "broken") == "FAILED", "the restart to fail again", 20)
        await app.goto(pilot, "live/broken")
        await pilot.press("l")
        await app.until(lambda: isinstance(app.screen, LogScreen), "the log screen")
        view = app.screen.query_one(LogView)

        def lines() -> list[str]:
            return [line.text for line in view.body.lines]

        await app.until(lambda: "finished with 3" in lines(), "the log's lines")
        assert lines() == ["job.sh 3 - 0", "working on it", "finished with 3"]
        title = str(view.query_one("#log-title").content)
        assert "attempt 2 (2 of 2)" in title and "stdout" in title and "broken-" in title
        assert "finished with 3" in app.screen_text()  # painted, not only held
        await pilot.press("o")
        await app.until(lambda: lines() == ["job.sh: exit 3"], "the stderr log")
        assert "· stderr ·" in str(view.query_one("#log-title").content)
        await pilot.press("p")
        await app.until(
            lambda: "attempt 1 (1 of 2)" in str(view.query_one("#log-title").content), "attempt 1"
        )
        await app.until(lambda: lines() == ["job.sh: exit 3"], "attempt 1's stderr")
        await pilot.press("p")
        assert app.notes_with("no older attempt")
        await pilot.press("escape")
        await app.until(lambda: isinstance(app.screen, JobsScreen), "the jobs screen again")
        assert app.table.cursor_key == "live/broken"


# -- recovery keys ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("removed", "row", "summary", "change", "shown"),
    [
        ("ok.txt", "live/ok", "validated 1 job(s): 0/1", "live/ok: SUCCEEDED -> FAILED", ("ok", "FAILED")),
        (
            "sweep-2.txt",
            "live/sweep",  # the group row: every task of the array
            "validated 3 job(s): 1/3",
            "live/sweep[2]: SUCCEEDED -> FAILED",
            ("▸", "sweep", "3", "PARTIAL", "✔1", "✖2"),
        ),
    ],
    ids=["job", "array"],
)
async def test_v_validates_and_says_which_output_is_missing(
    live, make_app, removed: str, row: str, summary: str, change: str, shown: tuple[str, ...]
) -> None:
    missing = live.folder / "out" / removed
    missing.unlink()
    app = make_app(live.db, live.session, polling=False)
    async with app.run_test(size=SIZE) as pilot:
        await opened(app, pilot)
        await app.goto(pilot, row)
        await pilot.press("v")
        await app.until(lambda: app.notes_with("validated"), "the validation's notification")
        note = app.notes_with("validated")[0]
        assert note.startswith(f"{summary} outputs verified")
        assert change in note and "\nmissing: " in note and str(missing) in note.split("\nmissing: ")[1]
        await app.until(lambda: app.row(*shown), f"the row to show {shown}")
        assert not app.screen.query_one("#progress", ProgressBar).display
    jobs = await live.jobs()
    assert jobs[change.split("/", 1)[1].split(":")[0]].state is State.FAILED


async def test_r_resumes_exactly_the_missing_task_after_confirmation(live, make_app) -> None:
    before = await live.submissions()
    app = make_app(live.db, live.session, polling=False)
    async with app.run_test(size=SIZE) as pilot:
        await opened(app, pilot)
        await app.goto(pilot, "live/sweep")
        await pilot.press("r")
        await app.until(lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        text = dialog_text(app)
        assert text.startswith("Resume 1 missing task(s)?")
        assert "out/sweep-1.txt 0 1 <" in text  # task 1's own arguments
        assert "sweep-0" not in text and "sweep-2" not in text and text.count("job.sh") == 1
        await pilot.press("n")
        await app.until(lambda: isinstance(app.screen, JobsScreen), "the dialog to close")
        assert await live.submissions() == before
        await pilot.press("r")
        await app.until(lambda: isinstance(app.screen, ConfirmScreen), "the confirmation again")
        await pilot.press("y")
        await app.until(lambda: app.notes_with("resume: live/sweep submitted as job"), "the submission")
        assert await live.submissions() == before + 1
        await pilot.press("enter")  # unfold
        for _ in range(100):
            await pilot.press("ctrl+r")
            if app.row("sweep", "1") and app.row("sweep", "1")[2] == "SUCCEEDED":
                break
            await pilot.pause(0.1)
        assert app.row("sweep", "1")[2:4] == ["SUCCEEDED", "2"]  # attempt 2, its output written
        assert app.row("▸", "sweep") is None and app.row("▾", "sweep")[3] == "SUCCEEDED"
    jobs = await live.jobs()
    assert [a.kind for a in jobs["sweep[1]"].attempts] == ["submit", "resume"]
    assert len(jobs["sweep[0]"].attempts) == len(jobs["sweep[2]"].attempts) == 1


async def test_capital_r_restarts_a_failed_job_as_attempt_two(live, make_app) -> None:
    before = await live.submissions()
    app = make_app(live.db, live.session, polling=False)
    async with app.run_test(size=SIZE) as pilot:
        await opened(app, pilot)
        await app.goto(pilot, "live/broken")
        await pilot.press("R")
        await app.until(lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        text = dialog_text(app)
        assert text.startswith("Restart 1 job(s) as a new attempt?") and "job.sh 3 - 0" in text
        await pilot.press("y")
        await app.until(lambda: app.notes_with("restart: live/broken submitted as job"), "the submission")
        await app.until(lambda: app.row("broken")[2] == "2", "attempt 2 in the ATT column")
    assert await live.submissions() == before + 1
    jobs = await live.jobs()
    assert [a.kind for a in jobs["broken"].attempts] == ["submit", "restart"]
    assert jobs["broken"].attempts[0].job_id != jobs["broken"].attempts[1].job_id


async def test_c_cancels_a_running_job_after_confirmation(live, make_app) -> None:
    sleeper = (await live.jobs())["sleeper"].job_id
    app = make_app(live.db, live.session, polling=False)
    async with app.run_test(size=SIZE) as pilot:
        await opened(app, pilot)
        await app.goto(pilot, "live/sleeper")
        await pilot.press("c")
        await app.until(lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        assert dialog_text(app).startswith("Cancel 1 job(s)?")
        assert f"live/sleeper  RUNNING  {sleeper}" in dialog_text(app)
        await pilot.press("y")
        await app.until(lambda: state_of(app, "sleeper") == "CANCELLED", "CANCELLED", timeout=20)
        assert app.notes_with(f"cancel sent to here for {sleeper}")
    report = await LocalBackend("probe", live.db.parent / "local-jobs").poll([sleeper], None)
    assert report.observations[sleeper].raw_state == "CANCELLED"  # the process itself ended


async def test_x_marks_a_job_failed_with_the_reason_typed(live, make_app) -> None:
    app = make_app(live.db, live.session, polling=False)
    async with app.run_test(size=SIZE) as pilot:
        await opened(app, pilot)
        await app.goto(pilot, "live/sleeper")
        await pilot.press("x")
        await app.until(lambda: isinstance(app.screen, PromptScreen), "the reason prompt")
        await pilot.press("escape")  # refused: nothing changes
        await app.until(lambda: isinstance(app.screen, JobsScreen), "the prompt to close")
        assert state_of(app, "sleeper") == "RUNNING"
        await pilot.press("x")
        await app.until(lambda: isinstance(app.screen, PromptScreen), "the reason prompt again")
        await pilot.press(*"node", "space", *"died", "enter")
        await app.until(lambda: state_of(app, "sleeper") == "FAILED", "FAILED")
        assert " ".join(app.row("sleeper")[2:6]).startswith("marked failed by hand")
    job = (await live.jobs())["sleeper"]
    assert job.state is State.FAILED and job.reason == "marked failed by hand: node died"


async def test_s_submits_the_pending_job(live, make_app) -> None:
    before = await live.submissions()
    app = make_app(live.db, live.session, polling=False)
    async with app.run_test(size=SIZE) as pilot:
        await opened(app, pilot)
        await pilot.press("s")
        await app.until(lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        text = dialog_text(app)
        assert text.startswith("Submit 1 job(s)?") and "out/later.txt" in text
        await pilot.press("y")
        await app.until(lambda: state_of(app, "later") in ("QUEUED", "RUNNING"), "later submitted")
        assert app.row("later")[2:4] == ["1", str(before + 1)]  # attempt 1, the next local job ID
    assert await live.submissions() == before + 1


async def test_m_registers_jobs_added_to_the_manifest(live, make_app) -> None:
    app = make_app(live.db, live.session, polling=False)
    async with app.run_test(size=SIZE) as pilot:
        await opened(app, pilot)
        assert app.row("extra") is None
        with live.manifest.open("a") as manifest:
            manifest.write('\n[[jobs]]\nname = "extra"\nscript = "job.sh"\nargs = ["0", "-", "0"]\n')
        await pilot.press("m")
        await app.until(lambda: app.row("extra"), "the new job's row")
        assert state_of(app, "extra") == "PENDING"
        assert app.notes_with(f"1 new job(s) registered from {live.manifest}; 2 never submitted")
    assert (await live.jobs())["extra"].attempts == ()


# -- help, palette, command line, quit --------------------------------------------------------------


async def test_question_mark_lists_every_key(live, make_app) -> None:
    app = make_app(live.db, live.session, polling=False)
    async with app.run_test(size=(200, 100)) as pilot:
        await opened(app, pilot)
        await pilot.press("question_mark")
        await app.until(lambda: isinstance(app.screen, HelpScreen), "the help")
        await pilot.pause()
        text = app.screen_text()
        ids = [k.id for k in ALL_KEYS] + [b.id for b in (*JobTable.BINDINGS, *LogScreen.BINDINGS)]
        assert all(ids), "every binding has an id"
        missing = [i for i in ids if i not in text]
        assert missing == []
        for key in ALL_KEYS:
            if key.cli:
                assert key.cli in text
        await pilot.press("escape")
        await app.until(lambda: isinstance(app.screen, JobsScreen), "the jobs screen again")


def palette_hits(app) -> list[str]:
    """Every command the open palette lists (scrolled out of sight or not), best first."""
    return [str(option.hit.text) for option in app.screen.query_one(OptionList).options]


async def palette(app, pilot: Pilot, query: str, first: str) -> None:
    """Open ctrl+p, type `query`, wait for `first` to be the best hit, run it."""
    await pilot.press("ctrl+p")
    await app.until(lambda: isinstance(app.screen, CommandPalette), "the palette")
    await pilot.press(*["space" if c == " " else c for c in query])
    await app.until(lambda: palette_hits(app)[:1] == [first], f"{first} as the first hit")
    await pilot.press("enter")


async def test_ctrl_p_lists_the_commands_and_runs_them(live, make_app) -> None:
    app = make_app(live.db, live.session, polling=False)
    async with app.run_test(size=SIZE) as pilot:
        await opened(app, pilot)
        await pilot.press("ctrl+p")
        await app.until(lambda: isinstance(app.screen, CommandPalette), "the palette")
        await app.until(lambda: "mark-failed  (x)" in palette_hits(app), "the command list")
        hits = palette_hits(app)
        for label in (
            "help  (?)",
            "command-line  (:)",
            "sessions  (S)",
            "logs  (l)",
            "validate  (v)",
            "resume  (r)",
            "restart  (R)",
            "submit-pending  (s)",
            "cancel  (c)",
            "filter  (/)",
        ):
            assert label in hits
        await pilot.press("escape")
        await app.until(lambda: isinstance(app.screen, JobsScreen), "the palette to close")
        await palette(app, pilot, "show every key", "help  (?)")  # an app action
        await app.until(lambda: isinstance(app.screen, HelpScreen), "the help, from the palette")
        await pilot.press("escape")
        await palette(app, pilot, "check the expected", "validate  (v)")  # a jobs screen action
        await app.until(lambda: app.notes_with("validated 1 job(s)"), "validate to run from the palette")


async def test_colon_runs_commands_and_q_exits(live, make_app) -> None:
    app = make_app(live.db, live.session, polling=False)
    async with app.run_test(size=SIZE) as pilot:
        await opened(app, pilot)
        await pilot.press("colon", *"validate", "enter")
        await app.until(lambda: app.notes_with("validated 1 job(s): 1/1 outputs verified"), ":validate")
        await pilot.press("colon", *"nonsense", "enter")
        await app.until(lambda: app.notes_with("unknown command :nonsense"), "the refusal")
        await pilot.press("colon", "q", "enter")
        await app.until(lambda: not app.is_running, "the app to exit")
    assert app.return_code == 0


async def test_q_quits_and_leaves_the_store_and_the_processes_alone(live, make_app) -> None:
    before = await live.jobs()
    sleeper = before["sleeper"].job_id
    app = make_app(live.db, live.session, polling=True)
    async with app.run_test(size=SIZE) as pilot:
        await opened(app, pilot)
        await pilot.press("q")
        await app.until(lambda: not app.is_running, "the app to exit")
    assert app.return_code == 0
    after = await live.jobs()
    assert {k: (j.state, len(j.attempts)) for k, j in after.items()} == {
        k: (j.state, len(j.attempts)) for k, j in before.items()
    }
    report = await LocalBackend("probe", live.db.parent / "local-jobs").poll([sleeper], None)
    assert report.observations[sleeper].raw_state == "RUNNING"


# -- modes and configuration ------------------------------------------------------------------------


async def test_read_only_refuses_every_destructive_key(live, make_app) -> None:
    before = await live.jobs()
    submissions = await live.submissions()
    app = make_app(live.db, live.session, polling=False, read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        await opened(app, pilot)
        assert "read-only" in status(app)
        for key, job, what in [
            ("c", "live/sleeper", "cancel"),
            ("x", "live/sleeper", "mark failed"),
            ("R", "live/broken", "restart"),
            ("r", "live/sweep", "resume"),
            ("s", "live/later", "submit"),
            ("m", "live/ok", "monitor-all"),
        ]:
            await app.goto(pilot, job)
            await pilot.press(key)
            await app.until(lambda what=what: app.notes_with(f"read-only: {what} is disabled"), what)
            assert isinstance(app.screen, JobsScreen), f"{key} opened {app.screen}"
    assert await live.submissions() == submissions
    after = await live.jobs()
    assert {k: j.state for k, j in after.items()} == {k: j.state for k, j in before.items()}


async def test_keymap_remaps_validate_to_capital_v(live, make_app) -> None:
    config = UserConfig(keymap={"jobs.validate": "V"})
    app = make_app(live.db, live.session, config, polling=False)
    async with app.run_test(size=(200, 100)) as pilot:
        await opened(app, pilot)
        await app.goto(pilot, "live/ok")
        await pilot.press("v")
        await pilot.pause(0.3)
        assert not app.notes_with("validated")
        await pilot.press("V")
        await app.until(lambda: app.notes_with("validated 1 job(s)"), "V to validate")
        await pilot.press("question_mark")
        await app.until(lambda: isinstance(app.screen, HelpScreen), "the help")
        await pilot.pause()
        line = next(line for line in app.screen_lines() if "jobs.validate" in line)
        assert line.split("│")[0].split()[-1] == "V"
        await pilot.press("escape", "ctrl+p")
        await app.until(lambda: isinstance(app.screen, CommandPalette), "the palette")
        await app.until(lambda: "validate  (V)" in palette_hits(app), "the remapped key in the palette")


# -- an unreachable cluster -------------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_a_poll_that_fails_keeps_the_table_and_says_it_is_stale(tmp_path, make_app) -> None:
    manifest = tmp_path / "far.toml"
    manifest.write_text(
        f'[session]\nname = "far"\npoll_interval = 0.2\n\n[clusters.far]\nbackend = "slurm"\n'
        f'host = "127.0.0.1"\nport = {closed_port()}\nworkdir = "/tmp"\n\n'
        '[[jobs]]\nname = "remote"\nscript = "/tmp/remote.sh"\ncluster = "far"\n'
    )
    loaded = load_manifest(manifest)
    db = tmp_path / "jobdeck.db"
    store = await SessionStore.open(db)
    now = time.time()
    sid = await store.ensure_session("far", str(manifest), loaded.to_dict(), now)
    await store.add_jobs(sid, [(d.name, d.task, d.spec) for d in expand_manifest(loaded)], now)
    (job,) = await store.jobs("far")
    sub = await store.record_intent(sid, "remote", "submit", "jobdeck:far", "far", [job], "sbatch ...", now)
    await store.confirm_submission(
        sub, SubmitResult("4242", {None: "4242"}, "sbatch ..."), [(job, None, None)], now
    )
    await store.close()
    app = make_app(db, "far", polling=True)
    async with app.run_test(size=SIZE) as pilot:
        await opened(app, pilot)
        await app.until(lambda: "unreachable" in status(app), "the failed poll", timeout=20)
        text = status(app)
        assert "far unreachable, table stale since never" in text and "127.0.0.1" in text
        assert app.row("remote")[1:4] == ["QUEUED", "1", "4242"]
        assert app.notes_with("far:")
    (job,) = await (await SessionStore.open(db)).jobs("far")
    assert job.state is State.QUEUED


async def test_read_only_log_screen_shows_the_log_without_complaint(live, make_app) -> None:
    app = make_app(live.db, live.session, polling=False, read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        await opened(app, pilot)
        await pilot.press("l")
        await app.until(lambda: isinstance(app.screen, LogScreen), "the log screen")
        view = app.screen.query_one(LogView)
        await app.until(lambda: "finished with 0" in [line.text for line in view.body.lines], "the log")
        await pilot.pause(0.5)
        assert view.message == ""


async def test_read_only_app_polls_without_errors(live, make_app) -> None:
    app = make_app(live.db, live.session, polling=True, read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        await opened(app, pilot)
        await pilot.pause(1.0)  # a few poll intervals (0.3 s)
        assert not app.notes_with("poll failed"), app.notes


async def test_a_store_read_ending_while_the_screen_closes_paints_nothing(live, make_app) -> None:
    """A poll's reload that returns while the jobs screen is being removed (quit, escape) must not
    reach for its widgets: that crashed the poll worker, and with it the app, on exit."""
    app = make_app(live.db, live.session, polling=False)
    async with app.run_test(size=SIZE) as pilot:
        await opened(app, pilot)
        screen = app.screen
        reload = asyncio.create_task(screen.reload())
        await app.pop_screen()
        await reload
        assert isinstance(app.screen, SessionsScreen)


async def test_an_empty_database_says_no_sessions_yet_once_on_the_sessions_list(tmp_path, make_app) -> None:
    """It opens on My jobs, where the sessions list beneath says nothing; S shows the list and its
    notice, once."""
    feed = queue_fixture.FixedFeed()
    app = make_app(tmp_path / "empty.db", None, polling=False, queue_feed=lambda: feed)
    async with app.run_test(size=SIZE) as pilot:
        await app.until(lambda: isinstance(app.screen, QueueScreen), "My jobs")
        beneath = app.screen_stack[1]
        assert isinstance(beneath, SessionsScreen)
        await beneath.refresh_sessions()  # its periodic refresh, under My jobs
        await pilot.pause()
        assert app.notes_with("no sessions yet") == []
        await pilot.press("S")
        await app.until(lambda: isinstance(app.screen, SessionsScreen), "the sessions screen")
        await pilot.pause(0.5)
        for _ in range(2):  # the screen's periodic refreshes find it still empty
            await app.screen.refresh_sessions()
        await pilot.pause()
        said = [n.message for n in app._notifications if n.message.startswith("no sessions yet")]
        assert said == ["no sessions yet: `jobdeck submit MANIFEST` or `jobdeck demo`"]
