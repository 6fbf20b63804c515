"""The queue "My jobs" shows in the SVG snapshot tests and the README screenshot: fixed QueueEntry
values (what a scheduler's listing gives; times fixed around snapshot_session.NOW) served by a feed
that answers every refresh with them, and the scene that brings the app to the picture."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from snapshot_session import NOW, FixedClock, detail_text, until
from textual.pilot import Pilot

from backends.registry import config_clusters
from monitor.manifest import ClusterConfig
from monitor.protocols import Backend
from monitor.queue import QueueEntry, QueueReport
from monitor.states import State
from tui.app import JobdeckApp
from tui.config import UserConfig
from tui.queue_source import QueueSnapshot
from tui.screens.queue_screen import QueueScreen
from tui.widgets.job_table import JobTable

GB = 1024**3
HOUR = 3600.0


def _entry(job_id: str, name: str, state: State, word: str, **facts: object) -> QueueEntry:
    facts.setdefault("cluster", "lab")
    facts.setdefault("partition", "cpu")
    return QueueEntry(job_id=job_id, name=name, state=state, scheduler_state=word, **facts)  # type: ignore[arg-type]


def _task(task: int, state: State, word: str, **facts: object) -> QueueEntry:
    return _entry(
        f"4120_{task}", "sweep-lr", state, word, array_id="4120", task=task, cpus=4, req_mem=8 * GB, **facts
    )


ENTRIES = (  # in the order My jobs shows them: jobs still going, then the latest finished first
    _entry(
        "4102", "train-resnet", State.RUNNING, "RUNNING", partition="gpu", nodes="gpu-03", node_count=1, cpus=16,
        gpus=2, time_limit=12 * HOUR, start_time=NOW - 2.5 * HOUR, submit_time=NOW - 2.6 * HOUR, priority=4210,
        req_mem=64 * GB, workdir="/home/ada/resnet", log_path="/home/ada/resnet/slurm-4102.out",
        err_path="/home/ada/resnet/slurm-4102.out", session="paper-sweep",
    ),
    _task(0, State.SUCCEEDED, "COMPLETED", exit_code=0, nodes="cpu-02", node_count=1, start_time=NOW - 3 * HOUR,
          end_time=NOW - 2 * HOUR, elapsed=HOUR, cpu_efficiency=0.97, max_rss=int(6.1 * GB)),
    _task(1, State.SUCCEEDED, "COMPLETED", exit_code=0, nodes="cpu-04", node_count=1, start_time=NOW - 3 * HOUR,
          end_time=NOW - 1.9 * HOUR, elapsed=1.1 * HOUR, cpu_efficiency=0.95, max_rss=int(6.0 * GB)),
    _task(2, State.RUNNING, "RUNNING", nodes="cpu-05", node_count=1, time_limit=4 * HOUR,
          start_time=NOW - 0.7 * HOUR, priority=3900),
    _task(3, State.QUEUED, "PENDING", reason="Resources", time_limit=4 * HOUR, priority=3900),
    _task(4, State.QUEUED, "PENDING", reason="Resources", time_limit=4 * HOUR, priority=3900),
    _entry(
        "4131", "notebook", State.RUNNING, "RUNNING", partition="interactive", nodes="cpu-01", node_count=1,
        cpus=2, time_limit=8 * HOUR, start_time=NOW - 7.6 * HOUR, priority=1000, req_mem=4 * GB,
    ),
    _entry(
        "4140", "finetune-llm", State.QUEUED, "PENDING", partition="gpu", reason="QOSMaxGRESPerUser",
        node_count=2, cpus=64, gpus=8, time_limit=24 * HOUR, priority=5120, req_mem=512 * GB,
        submit_time=NOW - 0.4 * HOUR,
    ),
    _entry(
        "train-bert-x7k2p", "train-bert", State.RUNNING, "Running", cluster="kube", partition=None,
        nodes="node-a1", node_count=1, cpus=8, gpus=1, start_time=NOW - 0.25 * HOUR, req_mem=32 * GB,
    ),
    _entry(
        "4125", "eval-ood", State.FAILED, "OUT_OF_MEMORY", reason="OutOfMemory", exit_code=0, signal=9,
        nodes="cpu-07", node_count=1, cpus=4, time_limit=HOUR, start_time=NOW - 1.5 * HOUR,
        end_time=NOW - 1.3 * HOUR, elapsed=0.2 * HOUR, cpu_efficiency=0.34, max_rss=int(7.9 * GB), req_mem=8 * GB,
    ),
    _entry(
        "4118", "preprocess", State.SUCCEEDED, "COMPLETED", exit_code=0, nodes="cpu-11", node_count=1, cpus=8,
        time_limit=2 * HOUR, start_time=NOW - 5 * HOUR, end_time=NOW - 4.2 * HOUR, elapsed=0.8 * HOUR,
        cpu_efficiency=0.91, max_rss=int(5.3 * GB), req_mem=16 * GB, log_path="/home/ada/prep/slurm-4118.out",
    ),
    _entry(
        "4099", "build-index", State.FAILED, "FAILED", reason="NonZeroExitCode", exit_code=2, nodes="cpu-09",
        node_count=1, cpus=1, time_limit=HOUR, start_time=NOW - 9 * HOUR, end_time=NOW - 8.9 * HOUR,
        elapsed=360.0, cpu_efficiency=0.08, max_rss=int(0.2 * GB), req_mem=2 * GB,
    ),
)  # fmt: skip


class FixedFeed:
    """The same entries at every refresh (the very same objects, as a lister keeps unchanged jobs);
    no backend is opened."""

    def __init__(self, entries: Sequence[QueueEntry] = ENTRIES, errors: dict[str, str] | None = None) -> None:
        self.entries = tuple(entries)
        self.errors = dict(errors or {})
        names = {e.cluster: {"backend": "slurm"} for e in self.entries} or {"lab": {"backend": "slurm"}}
        self.clusters: dict[str, ClusterConfig] = config_clusters(Path("config.toml"), names)
        self.backends: dict[str, Backend] = {}
        self.refreshes = 0
        self.forgotten = 0

    async def refresh(self, history_hours: float, only: Sequence[str] | None = None) -> QueueSnapshot:
        self.refreshes += 1
        reports = {
            name: QueueReport(name, tuple(e for e in self.entries if e.cluster == name), ("squeue", "sacct"))
            for name in self.clusters
            if name not in self.errors
        }
        return QueueSnapshot(self.entries, dict(self.errors), reports, NOW)

    def forget_sessions(self) -> None:
        self.forgotten += 1

    async def close(self) -> None:
        return None


def make_queue_app(db: Path, config: UserConfig | None = None, feed: FixedFeed | None = None) -> JobdeckApp:
    """The app opened on an empty database: My jobs over the fixed entries, the clock at NOW."""
    shown = feed or FixedFeed()
    return JobdeckApp(db, None, config, polling=False, clock=FixedClock(NOW), queue_feed=lambda: shown)


async def queue_scene(pilot: Pilot) -> None:
    """My jobs with every kind of entry, the array folded, the first job's facts in the pane."""
    app = pilot.app
    shown = lambda: isinstance(app.screen, QueueScreen) and app.screen.query_one(JobTable).row_count_visible  # noqa: E731
    await until(app, shown, "My jobs")
    await until(app, lambda: "train-resnet" in detail_text(app), "the first job's facts")
