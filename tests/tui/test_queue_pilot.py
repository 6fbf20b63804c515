"""My jobs driven by Pilot over fixed queue entries (screenshots/queue_fixture.py, what a scheduler's
listing gives) and a real session store: the layout, the detail pane, filter, array grouping,
finished jobs hidden, the column picker saving the config file, cancel's confirmation, a cluster
that does not answer, no cluster at all, and the keys that move between My jobs and the sessions."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from pathlib import Path

import queue_fixture  # on sys.path through this folder's conftest.py
from textual.command import CommandPalette
from textual.pilot import Pilot
from textual.widgets import OptionList, SelectionList

from monitor.queue import QueueEntry
from monitor.states import State
from tui.config import UserConfig, load_config
from tui.queue_rows import DEFAULT_COLUMNS
from tui.screens.columns_screen import ColumnsScreen
from tui.screens.confirm_screen import ConfirmScreen
from tui.screens.jobs_screen import JobsScreen
from tui.screens.queue_screen import QueueScreen
from tui.screens.sessions_screen import SessionsScreen

SIZE = (150, 40)
NAMES = [e.name for e in queue_fixture.ENTRIES if e.array_id is None]


async def opened(app, pilot: Pilot) -> None:
    await app.until(lambda: isinstance(app.screen, QueueScreen) and app.rows(), "My jobs")
    await pilot.pause()


def names(app) -> list[str]:
    """The NAME cell of every visible row (an array's row as "▸ name")."""
    return [" ".join(row[:2]) if row[0] in ("▸", "▾") else row[0] for row in app.rows()]


def detail(app) -> str:
    return app.static_text("#detail-body")


def make(make_app, tmp_path: Path, feed=None, config: UserConfig | None = None, db: Path | None = None):
    shown = feed or queue_fixture.FixedFeed()
    return make_app(
        db or tmp_path / "empty.db",
        None,
        config or UserConfig(path=tmp_path / "config.toml"),
        polling=False,
        clock=queue_fixture.FixedClock(queue_fixture.NOW),
        queue_feed=lambda: shown,
    )


async def test_an_empty_database_opens_on_my_jobs_with_every_fact(tmp_path, make_app, utc) -> None:
    app = make(make_app, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await opened(app, pilot)
        assert names(app) == ["train-resnet", "▸ sweep-lr", *NAMES[1:]]  # going first, then the latest ended
        assert NAMES[-3:] == ["eval-ood", "preprocess", "build-index"]
        header = app.table.render_line(0).text.split()
        assert header == [
            "NAME",
            "STATE",
            "JOB",
            "ID",
            "CLUSTER",
            "SESSION",
            "PARTITION",
            "ELAPSED",
            "LEFT",
            "REASON",
        ]
        assert app.row("train-resnet")[:6] == ["train-resnet", "RUNNING", "4102", "lab", "paper-swe…", "gpu"]
        assert app.row("preprocess")[-1] == "48:00"  # elapsed as accounting says
        assert app.row("▸", "sweep-lr")[:4] == ["▸", "sweep-lr", "RUNNING", "4120[5]"]
        await app.until(lambda: "train-resnet" in detail(app), "the first job's facts")
        for fact in ("partition: gpu", "GPUs: 2", "time limit: 12:00:00", "time left: 9:30:00", "priority: 4210",
                     "memory asked: 64G", "stdout: /home/ada/resnet/slurm-4102.out", "in session paper-sweep"):  # fmt: skip
            assert fact in detail(app)
        await app.goto(pilot, "lab/4125")
        await app.until(lambda: "eval-ood" in detail(app), "the OOM job's facts")
        for fact in ("scheduler state: OUT_OF_MEMORY", "CPU efficiency: 34.0%", "MaxRSS: 7.9G", "signal: 9"):
            assert fact in detail(app)
        status = app.static_text("#status")
        assert "kube ok" in status and "lab ok" in status and "12 jobs" in status


async def test_filter_grouping_and_finished_jobs(tmp_path, make_app) -> None:
    app = make(make_app, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await opened(app, pilot)
        await pilot.press("slash", *"state:failed", "enter")
        await app.until(lambda: names(app) == ["eval-ood", "build-index"], "only the failed jobs")
        await pilot.press("escape")
        await app.until(lambda: len(names(app)) == 8, "every row again")

        await app.goto(pilot, "lab/4120[]")
        await app.until(lambda: "array 4120, 5 tasks" in detail(app), "the array's summary")
        assert "completed 2" not in detail(app) and "succeeded 2" in detail(app)
        await pilot.press("enter")  # unfolds
        await app.until(lambda: len(names(app)) == 13, "the array's tasks")
        assert [r[0] for r in app.rows()[2:7]] == ["sweep-lr"] * 5
        assert app.row("sweep-lr", "QUEUED")[2] == "4120_3"

        await pilot.press("a")  # finished jobs hidden; the array keeps its unfinished tasks
        await app.until(lambda: "preprocess" not in names(app), "the finished jobs to go")
        assert names(app) == ["train-resnet", "▾ sweep-lr", "sweep-lr", "sweep-lr", "sweep-lr", "notebook",
                              "finetune-llm", "train-bert"]  # fmt: skip
        assert "5 finished hidden (a)" in app.static_text("#status")
        await pilot.press("a")
        await app.until(lambda: "preprocess" in names(app), "the finished jobs back")


async def test_sort_by_a_column_of_numbers(tmp_path, make_app) -> None:
    config = UserConfig(columns=("name", "priority"), path=tmp_path / "config.toml")
    app = make(make_app, tmp_path, config=config)
    async with app.run_test(size=SIZE) as pilot:
        await opened(app, pilot)
        await pilot.press("o", "o", "o")  # NAME ascending, descending, then PRIO ascending
        await app.until(lambda: "PRIO ▲" in app.table.render_line(0).text, "the sort by priority")
        priorities = [int(row[-1]) for row in app.rows() if row[-1].isdigit()]
        assert priorities == sorted(priorities) and priorities[0] == 1000


async def test_the_column_picker_saves_the_config_and_keeps_its_comments(tmp_path, make_app) -> None:
    path = tmp_path / "config.toml"
    path.write_text('# my settings\nread_only = false  # keep it so\n\n[keymap]\n"jobs.validate" = "V"\n')
    app = make(make_app, tmp_path, config=load_config(path))
    async with app.run_test(size=SIZE) as pilot:
        await opened(app, pilot)
        await pilot.press("C")
        await app.until(lambda: isinstance(app.screen, ColumnsScreen), "the column picker")
        picker = app.screen.query_one(SelectionList)
        assert set(picker.selected) == set(DEFAULT_COLUMNS)
        for key in ("gpus", "reason", "session"):  # tick GPUS, untick REASON and SESSION
            picker.highlighted = [o.value for o in picker._options].index(key)
            await pilot.press("space")
        await pilot.press("ctrl+s")
        await app.until(lambda: isinstance(app.screen, QueueScreen), "My jobs again")
        await app.until(lambda: "GPUS" in app.table.render_line(0).text, "the GPUS column")
        assert "REASON" not in app.table.render_line(0).text
        assert app.row("train-resnet")[5] == "2"
        text = path.read_text()
        assert text.startswith("# my settings\nread_only = false  # keep it so\n")
        assert '"jobs.validate" = "V"' in text
        saved = tomllib.loads(text)["queue"]["columns"]
        assert saved == ["name", "state", "job_id", "cluster", "partition", "gpus", "time_left", "elapsed"]
        assert load_config(path).columns == tuple(saved)
        assert app.notes_with(f"columns saved in {path}")
        await pilot.press("C")  # escape leaves everything as it is
        await app.until(lambda: isinstance(app.screen, ColumnsScreen), "the column picker")
        await pilot.press("escape")
        await app.until(lambda: isinstance(app.screen, QueueScreen), "My jobs again")
        assert tomllib.loads(path.read_text())["queue"]["columns"] == saved


async def test_cancel_asks_first_and_names_the_jobs(tmp_path, make_app) -> None:
    app = make(make_app, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await opened(app, pilot)
        await app.goto(pilot, "lab/4120[]")  # the array: its unfinished tasks
        await pilot.press("c")
        await app.until(lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        assert "Cancel 3 job(s)?" in app.screen_text()
        assert all(f"lab/4120_{t}  sweep-lr" in app.screen_text() for t in (2, 3, 4))
        await pilot.press("n")
        await app.until(lambda: isinstance(app.screen, QueueScreen), "My jobs again")
        assert app.notes_with("cancel") == []

        await app.goto(pilot, "lab/4118")  # already ended: nothing to ask
        await pilot.press("c")
        await app.until(lambda: app.notes_with("already ended"), "the refusal")


async def test_read_only_refuses_cancel_and_adopt(tmp_path, make_app) -> None:
    config = UserConfig(read_only=True, path=tmp_path / "config.toml")
    app = make(make_app, tmp_path, config=config)
    async with app.run_test(size=SIZE) as pilot:
        await opened(app, pilot)
        await pilot.press("c", "A")
        await app.until(lambda: len(app.notes_with("read-only")) == 2, "two refusals")
        assert isinstance(app.screen, QueueScreen)


async def test_a_cluster_that_fails_is_shown_and_keeps_its_rows(tmp_path, make_app) -> None:
    feed = queue_fixture.FixedFeed(errors={"kube": "kube: no answer in 60 s"})
    app = make(make_app, tmp_path, feed=feed)
    async with app.run_test(size=SIZE) as pilot:
        await opened(app, pilot)
        assert "train-bert" in names(app)
        await app.until(
            lambda: "kube unreachable" in app.static_text("#status"), "the failure in the status bar"
        )
        assert "no answer in 60 s" in app.static_text("#status")
        await pilot.press("ctrl+r")
        await app.until(lambda: feed.refreshes == 2, "a second listing")
        assert app.notes_with("kube: no answer in 60 s (showing its last rows)") == [
            "kube: no answer in 60 s (showing its last rows)"
        ]  # said once while it lasts


async def test_no_cluster_says_what_to_configure(tmp_path, make_app) -> None:
    feed = queue_fixture.FixedFeed(())
    feed.clusters = {}
    app = make(make_app, tmp_path, feed=feed)
    async with app.run_test(size=SIZE):
        await app.until(lambda: isinstance(app.screen, QueueScreen), "My jobs")
        await app.until(lambda: "no cluster to list" in app.screen_text(), "the notice")
        line = app.static_text("#queue-notice").strip()
        assert (
            line
            == f"no cluster to list: no squeue on PATH, no kubeconfig, and no [clusters.NAME] in {tmp_path / 'config.toml'}"
        )
        assert feed.refreshes == 0


async def test_m_and_enter_move_between_my_jobs_and_sessions(live, tmp_path, make_app) -> None:
    """With a stored session the app opens on the sessions; M opens My jobs, enter on a job of a
    session opens the session, M comes back, escape returns to the sessions."""
    entries = [replace(e, session=live.session) if e.job_id == "4102" else e for e in queue_fixture.ENTRIES]
    feed = queue_fixture.FixedFeed(entries)
    app = make(make_app, tmp_path, feed=feed, db=live.db)
    async with app.run_test(size=SIZE) as pilot:
        await app.until(lambda: isinstance(app.screen, SessionsScreen), "the sessions")
        await pilot.press("M")
        await opened(app, pilot)
        await app.goto(pilot, "lab/4102")
        await pilot.press("enter")
        await app.until(lambda: isinstance(app.screen, JobsScreen), "the session of train-resnet")
        assert app.screen.session == live.session
        listed = feed.refreshes
        await pilot.press("M")
        await app.until(lambda: isinstance(app.screen, QueueScreen), "My jobs again")
        assert len(app.screen_stack) == 3
        await app.until(lambda: feed.refreshes == listed + 1, "a listing as it is shown again")
        await pilot.press("escape")
        await app.until(lambda: isinstance(app.screen, SessionsScreen), "the sessions again")


async def test_the_palette_lists_the_keys_of_my_jobs_once(tmp_path, make_app) -> None:
    app = make(make_app, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await opened(app, pilot)
        await pilot.press("ctrl+p")
        await app.until(lambda: isinstance(app.screen, CommandPalette), "the palette")
        hits = lambda: [str(o.hit.text) for o in app.screen.query_one(OptionList).options]  # noqa: E731
        await app.until(lambda: "adopt  (A)" in hits(), "the command list")
        for label in ("pick-columns  (C)", "cancel  (c)", "logs  (l)", "my-jobs  (M)", "sessions  (S)"):
            assert label in hits()
        assert sum(h.startswith("cancel ") for h in hits()) == 1
        assert not any(h.startswith("validate") for h in hits())


async def test_new_entry_objects_only_rebuild_their_rows(tmp_path, make_app) -> None:
    """A refresh whose listing changed one job shows the change and keeps the other rows."""
    feed = queue_fixture.FixedFeed()
    app = make(make_app, tmp_path, feed=feed)
    async with app.run_test(size=SIZE) as pilot:
        await opened(app, pilot)
        screen = app.screen
        assert isinstance(screen, QueueScreen)
        before = {k.key: k.row for k in screen.row_cache._kept.values()}
        done: QueueEntry = replace(
            feed.entries[6], state=State.SUCCEEDED, scheduler_state="COMPLETED", exit_code=0
        )
        feed.entries = (*feed.entries[:6], done, *feed.entries[7:])
        await pilot.press("ctrl+r")
        await app.until(lambda: app.row("notebook") and app.row("notebook")[1] == "SUCCEEDED", "the change")
        after = {k.key: k.row for k in screen.row_cache._kept.values()}
        assert [k for k in before if before[k] is not after[k]] == [done.key]
