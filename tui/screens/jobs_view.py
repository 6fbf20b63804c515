"""What the jobs screen's key actions (jobs_actions.py) rely on, declared: JobsScreen provides it."""

from __future__ import annotations

from abc import abstractmethod

from monitor.controller import Controller, PollOutcome
from monitor.model import Job
from tui.screens.filter_screen import FilterScreen


class JobsView(FilterScreen):
    session: str
    controller: Controller | None  # None until the session's controller is open
    jobs: list[Job]  # the session's jobs as last read
    lease_note: str  # set while another monitor holds the session's lease

    @abstractmethod
    def selected_jobs(self) -> list[Job]:
        """Marked rows, else the cursor row; a group row means every task of the array."""

    @abstractmethod
    async def reload(self) -> None:
        """Read the session from the store and show it."""

    @abstractmethod
    async def poll_once(self) -> PollOutcome | None:
        """One supervisor cycle."""

    @abstractmethod
    def progress(self, done: int, total: int) -> None:
        """Show how far a long action got."""
