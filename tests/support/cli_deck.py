"""The real `jobdeck` command on a database of its own, as the integration, validation and fault
tests drive it: run a command, read its --json, sync until jobs settle, cancel what it submitted."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from monitor_process import DeckFolder, jobdeck_command

from monitor.states import TERMINAL

SETTLED = frozenset(state.value for state in TERMINAL)
Rows = dict[tuple[str, int | None], dict[str, Any]]  # `list --json` rows by (name, task)


def described(result: subprocess.CompletedProcess[str]) -> str:
    """A finished command, for assertion messages."""
    command = shlex.join(str(word) for word in result.args)
    return f"{command} exited {result.returncode}\nstdout: {result.stdout}\nstderr: {result.stderr}"


@dataclass
class CliDeck(DeckFolder):
    """`jobdeck --db <folder>/state/jobdeck.db` with `env`, run in <folder> (see DeckFolder). Remembers every scheduler ID it submitted (submit, resume) so
    `cancel_leftovers` can scancel them."""

    TIMEOUT: ClassVar[float] = 60.0  # seconds a command may take unless told

    env: dict[str, str] = field(default_factory=dict)
    submitted: list[str] = field(default_factory=list)

    def command(self) -> list[str]:
        return [jobdeck_command(), "--db", str(self.db)]

    def environ(self, env: Mapping[str, str] | None = None) -> dict[str, str]:
        """This machine's environment without jobdeck's settings, then the deck's, then `env`."""
        base = {k: v for k, v in os.environ.items() if not k.startswith("JOBDECK_")}
        return {**base, **self.env, **(env or {})}

    def run(
        self,
        *args: str,
        env: Mapping[str, str] | None = None,
        prefix: Sequence[str] = (),
        timeout: float | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """The command as a user types it; `prefix` runs it under another program (e.g. setpriv)."""
        result = subprocess.run(
            [*prefix, *self.command(), *args],
            capture_output=True,
            text=True,
            env=self.environ(env),
            cwd=self.folder,
            timeout=timeout or self.TIMEOUT,
        )
        if (
            args[:1] in (("submit",), ("resume",))
            and "--json" in args
            and result.stdout.startswith(("[", "{"))
        ):
            self._remember(json.loads(result.stdout))
        return result

    def _remember(self, data: Any) -> None:
        outcomes = data if isinstance(data, list) else [p["submission"] for p in data.get("plans", [])]
        self.submitted += [o["job_id"] for o in outcomes if o and o.get("job_id")]

    def json(
        self, *args: str, env: Mapping[str, str] | None = None, timeout: float | None = None, ok: bool = True
    ) -> Any:
        """Run with --json; it must succeed unless `ok` is False."""
        result = self.run(*args, "--json", env=env, timeout=timeout)
        assert result.returncode == 0 or not ok, described(result)
        return json.loads(result.stdout)

    def rows(self, session: str) -> Rows:
        return {(j["name"], j["task"]): j for j in self.json("list", "--session", session)}

    def sync_reports(
        self,
        session: str,
        done: Callable[[Rows], bool] | None = None,
        limit: float = 90,
        what: str = "",
        flags: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
    ) -> tuple[Rows, list[dict[str, Any]]]:
        """`sync [flags]` then `list` until `done(rows)` (default: every job settled); the rows then,
        and every sync report on the way."""
        done = done or (lambda rows: all(j["state"] in SETTLED for j in rows.values()))
        reports: list[dict[str, Any]] = []
        deadline = time.monotonic() + limit
        while True:
            (report,) = self.json("sync", "--session", session, *flags, env=env)
            reports.append(report)
            rows = self.rows(session)
            if done(rows):
                return rows, reports
            if time.monotonic() > deadline:
                states = {f"{n}[{t}]" if t is not None else n: j["state"] for (n, t), j in rows.items()}
                raise AssertionError(f"{what or 'jobs settle'}: not within {limit:g} s; states now {states}")
            time.sleep(0.5)

    def cancel_leftovers(self) -> None:
        """scancel what was submitted; only SLURM's IDs, so only with SLURM_CONF set."""
        if self.submitted and "SLURM_CONF" in self.env:
            env = {**os.environ, "SLURM_CONF": self.env["SLURM_CONF"]}
            subprocess.run(
                ["scancel", *self.submitted], env=env, capture_output=True, timeout=30, check=False
            )
