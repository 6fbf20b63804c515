"""Every key of the app in one catalogue: its id (remappable through the keymap), default key,
description for `?` help and the command palette, and its headless CLI twin."""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding


@dataclass(frozen=True, slots=True)
class KeyAction:
    id: str  # binding id, e.g. "jobs.validate": what a keymap entry names
    key: str  # default key(s), comma-separated
    action: str  # the Textual action it runs
    description: str
    cli: str = ""  # the headless twin
    destructive: bool = False  # asks for confirmation first
    show: bool = True  # shown in the footer
    command: str = ""  # name for the `:` command line and the palette (default: the action)
    label: str = ""  # short footer label (default: the command name)

    @property
    def command_name(self) -> str:
        return self.command or self.action.replace("_", "-")

    def binding(self) -> Binding:
        return Binding(
            self.key,
            self.action,
            self.label or self.command_name,
            show=self.show,
            id=self.id,
            tooltip=self.description,
        )


APP_KEYS = (
    KeyAction("app.help", "question_mark", "help", "Show every key", "jobdeck --help"),
    KeyAction(
        "app.quit", "q", "quit", "Quit (jobs keep running; the session stays in the store)", command="quit"
    ),
    KeyAction(
        "app.command_line", "colon", "command_line", "Type a command (:validate, :logs, :q ...)", show=False
    ),
    KeyAction("app.sessions", "S", "sessions", "All sessions", "jobdeck sessions", show=False),
    KeyAction(
        "app.my_jobs",
        "M",
        "my_jobs",
        "My jobs: every job of yours on every cluster",
        "jobdeck queue",
        show=False,
    ),
)

JOB_KEYS = (
    KeyAction("jobs.logs", "l", "logs", "Log of the selected job's current attempt", "jobdeck logs JOB [--follow]"),
    KeyAction("jobs.validate", "v", "validate", "Check the expected outputs of the selected jobs", "jobdeck validate JOB"),
    KeyAction("jobs.resume", "r", "resume", "Resubmit only the missing tasks of a PARTIAL job", "jobdeck resume JOB", True),
    KeyAction("jobs.restart", "R", "restart", "New attempt of a FAILED, CANCELLED or LOST job", "jobdeck restart JOB", True),
    KeyAction("jobs.submit", "s", "submit_pending", "Submit selected jobs never submitted", "jobdeck submit-pending", True),
    KeyAction("jobs.monitor_all", "m", "monitor_all", "Track every job the manifest defines", "jobdeck track SESSION", True),
    KeyAction("jobs.cancel", "c", "cancel", "Cancel the selected (or marked) jobs", "jobdeck cancel JOB", True),
    KeyAction("jobs.mark_failed", "x", "mark_failed", "Settle a stuck job as FAILED by hand", "jobdeck mark-failed JOB --reason TEXT", True),
    KeyAction("jobs.toggle_finished", "a", "toggle_finished", "Show or hide finished jobs", "jobdeck list --status ..."),
    KeyAction("jobs.filter", "slash", "filter", "Filter by name, state:..., reason:...", "jobdeck list --status STATE"),
    KeyAction("jobs.refresh", "ctrl+r", "refresh", "Poll now", "jobdeck sync", show=False),
    KeyAction("jobs.back", "escape", "back", "Back (clear the filter, or return to the sessions)", show=False),
)  # fmt: skip

QUEUE_KEYS = (
    KeyAction("queue.logs", "l", "logs", "Log of the selected job (stdout, o for stderr)", "jobdeck logs --cluster C JOBID"),
    KeyAction("queue.cancel", "c", "cancel", "Cancel the selected (or marked) jobs of the queue", "jobdeck cancel --cluster C JOBID...", True),
    KeyAction("queue.adopt", "A", "adopt", "Adopt the selected (or marked) jobs into session `adopted`", "jobdeck adopt JOBID... [--cluster C]", True),
    KeyAction("queue.columns", "C", "pick_columns", "Choose the columns (saved in the config's [queue] columns)", "config.toml: queue.columns", label="columns"),
    KeyAction("queue.toggle_finished", "a", "toggle_finished", "Show or hide finished jobs", "jobdeck queue --since HOURS"),
    KeyAction("queue.filter", "slash", "filter", "Filter by name, state:..., session:..., partition:...", "jobdeck queue --json"),
    KeyAction("queue.refresh", "ctrl+r", "refresh", "List the queue now", "jobdeck queue", show=False),
    KeyAction("queue.back", "escape", "back", "Back (clear the filter)", show=False),
)  # fmt: skip

ALL_KEYS = APP_KEYS + JOB_KEYS + QUEUE_KEYS


def by_command(name: str) -> KeyAction | None:
    """The action a `:` command names (its command name or its action)."""
    name = name.strip().lower()
    for key in ALL_KEYS:
        if name in (key.command_name, key.action, key.id):
            return key
    return None
