"""My jobs' rows without the app: the columns and their texts, the row cache that rebuilds only the
rows of new entry objects (and running jobs' clock cells), and the config writer of the column
picker."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import queue_fixture  # on sys.path through this folder's conftest.py

from monitor.errors import InputError
from monitor.states import State
from tui.config import load_config
from tui.config_write import save_queue_columns
from tui.queue_row_cache import QueueRowCache
from tui.queue_rows import BY_KEY, DEFAULT_COLUMNS, QUEUE_COLUMNS, chosen_columns, in_shown_order, size_text

NOW = queue_fixture.NOW
ENTRIES = queue_fixture.ENTRIES


def test_sizes_read_as_people_write_them() -> None:
    assert [size_text(n) for n in (None, 0, 512, 1536, 10 * 1024**2, int(7.94 * 1024**3), 3 * 1024**5)] == [
        "", "0B", "512B", "1.5K", "10M", "7.9G", "3072T",
    ]  # fmt: skip


def test_the_chosen_columns_in_the_configs_order_and_the_unknown_ones_named() -> None:
    assert [c.key for c in chosen_columns(())[0]] == list(DEFAULT_COLUMNS)
    columns, unknown = chosen_columns(("priority", "name", "bogus", "name"))
    assert [c.key for c in columns] == ["priority", "name"] and unknown == ["bogus"]
    assert [c.key for c in chosen_columns(("bogus",))[0]] == list(DEFAULT_COLUMNS)
    assert len({c.key for c in QUEUE_COLUMNS}) == len(QUEUE_COLUMNS) == 18


def test_every_fact_as_its_column_says() -> None:
    cache = QueueRowCache(QUEUE_COLUMNS)
    rows = {row.key: row for row in cache.rows(ENTRIES, NOW)}
    oom = dict(zip((c.key for c in QUEUE_COLUMNS), rows["lab/4125"].cells, strict=True))
    assert oom == {
        "name": "eval-ood", "state": "FAILED", "job_id": "4125", "cluster": "lab", "session": "",
        "partition": "cpu", "nodes": "cpu-07", "cpus": "4", "gpus": "", "time_limit": "1:00:00",
        "time_left": "", "priority": "", "reason": "OutOfMemory", "elapsed": "12:00",
        "cpu_efficiency": "34%", "max_rss": "7.9G", "req_mem": "8.0G", "exit_code": "sig 9",
    }  # fmt: skip
    array = dict(zip((c.key for c in QUEUE_COLUMNS), rows["lab/4120[]"].cells, strict=True))
    assert (array["state"], array["job_id"], array["reason"], array["elapsed"]) == (
        "RUNNING",
        "4120[5]",
        "…2 ▶1 ✔2",
        "",
    )
    assert rows["lab/4120_3"].parent == "lab/4120[]"


def test_only_new_entry_objects_are_rebuilt() -> None:
    cache = QueueRowCache([BY_KEY[k] for k in DEFAULT_COLUMNS])
    first = {row.key: row for row in cache.rows(ENTRIES, NOW)}
    again = {row.key: row for row in cache.rows(ENTRIES, NOW)}
    assert all(again[k] is first[k] for k in first)

    task = replace(ENTRIES[4], state=State.RUNNING, scheduler_state="RUNNING", start_time=NOW - 10)
    changed = (*ENTRIES[:4], task, *ENTRIES[5:])
    after = {row.key: row for row in cache.rows(changed, NOW)}
    assert sorted(k for k in first if after[k] is not first[k]) == ["lab/4120[]", "lab/4120_3"]
    assert after["lab/4120[]"].cells[-1] == "…1 ▶2 ✔2"


def test_jobs_still_going_come_first_then_the_latest_finished() -> None:
    assert in_shown_order(ENTRIES) == ENTRIES  # the fixture is written in that order
    shuffled = (ENTRIES[-1], ENTRIES[-3], ENTRIES[2], ENTRIES[0], ENTRIES[1], ENTRIES[-2])
    assert [e.job_id for e in in_shown_order(shuffled)] == [
        "4102",
        "4125",
        "4120_1",
        "4120_0",
        "4118",
        "4099",
    ]


def test_the_clock_moves_only_running_rows_once_a_second() -> None:
    cache = QueueRowCache([BY_KEY[k] for k in ("name", "elapsed", "time_left")])
    first = {row.key: row for row in cache.rows(ENTRIES, NOW)}
    same_second = {row.key: row for row in cache.rows(ENTRIES, NOW + 0.5)}
    assert all(same_second[k] is first[k] for k in first)
    later = {row.key: row for row in cache.rows(ENTRIES, NOW + 61)}
    moved = sorted(k for k in first if later[k] is not first[k])
    assert moved == ["kube/train-bert-x7k2p", "lab/4102", "lab/4120_2", "lab/4131"]
    assert later["lab/4102"].cells == ("train-resnet", "2:31:01", "9:28:59")
    assert later["lab/4102"].sort_keys == ("train-resnet", 9061.0, 34139.0)


def test_finished_entries_hidden_with_arrays_that_have_only_finished_tasks() -> None:
    cache = QueueRowCache([BY_KEY["name"]])
    keys = [row.key for row in cache.rows(ENTRIES, NOW, show_finished=False)]
    assert keys == ["lab/4102", "lab/4120[]", "lab/4120_2", "lab/4120_3", "lab/4120_4", "lab/4131", "lab/4140",
                    "kube/train-bert-x7k2p"]  # fmt: skip
    done = [e for e in ENTRIES if e.array_id is not None and e.finished]
    assert [row.key for row in cache.rows(done, NOW, show_finished=False)] == []


def test_the_columns_are_saved_with_the_files_comments(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('# mine\n[queue]  # My jobs\nhistory = 48  # two days\ncolumns = ["name"]\n')
    save_queue_columns(path, ["name", "gpus"])
    assert (
        path.read_text()
        == '# mine\n[queue]  # My jobs\nhistory = 48  # two days\ncolumns = ["name", "gpus"]\n'
    )
    assert load_config(path).history_hours == 48

    fresh = tmp_path / "new" / "config.toml"
    save_queue_columns(fresh, ["state"])
    assert load_config(fresh).columns == ("state",)

    broken = tmp_path / "broken.toml"
    broken.write_text("[queue\n")
    with pytest.raises(InputError, match=r"cannot save the columns in .*broken\.toml"):
        save_queue_columns(broken, ["name"])
    assert broken.read_text() == "[queue\n"
