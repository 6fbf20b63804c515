from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tui.widgets.table_model import Column, Diff, TableModel, TableRow

COLUMNS = (Column("name", "Name", 12), Column("state", "State", 9), Column("reason", "Reason", 8))


def row(key: str, name: str = "", state: str = "RUNNING", reason: str = "", **extra: object) -> TableRow:
    return TableRow(key, (name or key, state, reason), **extra)  # type: ignore[arg-type]


def model_with(*rows: TableRow) -> TableModel:
    model = TableModel(COLUMNS)
    model.set_rows(rows)
    return model


# --- diffs and natural order ---------------------------------------------------------------------


def test_diff_names_added_removed_and_changed_columns() -> None:
    model = model_with(row("a"), row("b"), row("c"))
    diff = model.set_rows([row("a", state="FAILED", reason="OOM"), row("c"), row("d")])
    assert diff == Diff(added=("d",), removed=("b",), changed={"a": frozenset({1, 2})})


def test_style_only_change_is_reported_without_columns() -> None:
    model = model_with(row("a", style="green"))
    diff = model.set_rows([row("a", style="red")])
    assert diff.changed == {"a": frozenset()}
    assert model.row("a").style == "red"


def test_same_rows_give_an_empty_diff() -> None:
    rows = [row("a"), row("b")]
    model = model_with(*rows)
    assert not model.set_rows([row("a"), row("b")])


def test_natural_order_is_first_insertion_order() -> None:
    model = model_with(row("b"), row("a"))
    model.set_rows([row("c"), row("a", state="FAILED"), row("b")])
    assert list(model.visible) == ["b", "a", "c"]


def test_duplicate_keys_and_wrong_widths_are_refused_without_a_trace() -> None:
    model = model_with(row("a"))
    with pytest.raises(ValueError, match="duplicate row key 'b'"):
        model.set_rows([row("b"), row("b")])
    with pytest.raises(ValueError, match="row 'x' has 2 cells for 3 columns"):
        model.set_rows([row("b"), TableRow("x", ("x", "RUNNING"))])
    assert list(model.visible) == ["a"]


def test_unchanged_sort_column_keeps_the_order_and_a_changed_one_resorts() -> None:
    model = model_with(row("a", "3"), row("b", "1"), row("c", "2"))
    model.sort("name")
    assert list(model.visible) == ["b", "c", "a"]
    generation = model.generation
    model.set_rows([row("a", "3", state="FAILED"), row("b", "1"), row("c", "2")])
    assert model.generation == generation  # nothing re-sorted nor rebuilt
    model.set_rows([row("a", "0"), row("b", "1"), row("c", "2")])
    assert list(model.visible) == ["a", "b", "c"]


# --- sorting -------------------------------------------------------------------------------------


def test_sort_uses_typed_sort_keys_with_none_last_both_ways() -> None:
    def typed(key: str, value: int | None) -> TableRow:
        return row(key, str(value), sort_keys=(value, "", ""))

    model = model_with(typed("ten", 10), typed("none", None), typed("nine", 9))
    model.sort("name")
    assert list(model.visible) == ["nine", "ten", "none"]
    model.sort("name", reverse=True)
    assert list(model.visible) == ["ten", "nine", "none"]
    assert (model.sort_column, model.sort_reverse) == ("name", True)
    model.sort(None)
    assert list(model.visible) == ["ten", "none", "nine"]


def test_sort_is_stable_on_natural_order_in_both_directions() -> None:
    model = model_with(row("a", state="X"), row("b", state="Y"), row("c", state="X"))
    model.sort("state")
    assert list(model.visible) == ["a", "c", "b"]
    model.sort("state", reverse=True)
    assert list(model.visible) == ["b", "a", "c"]


# --- filter --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("state:running", ["train-1", "eval-7"]),
        ("STATE:Fail", ["train-2", "prep"]),
        ("name:eval", ["eval-7"]),
        ("reason:time", ["train-2"]),
        ("train state:running", ["train-1"]),
        ("oom", ["prep"]),
        ("nothing-like-this", []),
        ("", ["train-1", "train-2", "eval-7", "prep"]),
    ],
)
def test_filter_words_and_column_tokens(text: str, expected: list[str]) -> None:
    model = model_with(
        row("train-1"),
        row("train-2", state="FAILED", reason="TIMEOUT"),
        row("eval-7"),
        row("prep", state="FAILED", search_text="prep OOMKilled on node-3"),
    )
    model.filter(text)
    assert list(model.visible) == expected
    assert model.filter_text == text


def test_unknown_token_prefix_is_plain_text() -> None:
    model = model_with(row("a", reason="see:x"), row("b"))
    model.filter("see:x")
    assert list(model.visible) == ["a"]


def test_filter_follows_updates_of_matching_rows() -> None:
    model = model_with(row("a"), row("b"))
    model.filter("state:failed")
    assert list(model.visible) == []
    model.set_rows([row("a", state="FAILED"), row("b"), row("c", state="FAILED")])
    assert list(model.visible) == ["a", "c"]


# --- groups --------------------------------------------------------------------------------------


def array_model() -> TableModel:
    return model_with(
        row("solo"),
        row("arr", "sweep"),
        row("arr_0", "sweep[0]", parent="arr"),
        row("arr_1", "sweep[1]", state="FAILED", parent="arr"),
        row("tail"),
    )


def test_children_are_hidden_until_their_group_is_expanded() -> None:
    model = array_model()
    assert list(model.visible) == ["solo", "arr", "tail"]
    assert model.is_group("arr") and not model.is_group("solo")
    assert model.toggle("arr")
    assert list(model.visible) == ["solo", "arr", "arr_0", "arr_1", "tail"]
    assert model.is_expanded("arr") and model.depth("arr_0") == 1 and model.depth("arr") == 0
    assert not model.toggle("solo")
    model.toggle("arr")
    assert list(model.visible) == ["solo", "arr", "tail"]


def test_children_sort_inside_their_group() -> None:
    model = array_model()
    model.toggle("arr")
    model.sort("name", reverse=True)
    assert list(model.visible) == ["tail", "arr", "arr_1", "arr_0", "solo"]
    model.sort("state")
    assert list(model.visible) == ["solo", "arr", "arr_1", "arr_0", "tail"]


def test_a_matching_child_shows_its_group_expanded_until_folded() -> None:
    model = array_model()
    model.filter("state:failed")
    assert list(model.visible) == ["arr", "arr_1"]
    assert model.is_expanded("arr")
    model.toggle("arr")
    assert list(model.visible) == ["arr"]
    model.filter("")
    assert list(model.visible) == ["solo", "arr", "tail"]


def test_orphans_are_top_level_and_adopted_when_their_group_arrives() -> None:
    model = model_with(row("arr_0", parent="arr"), row("x"))
    assert list(model.visible) == ["arr_0", "x"]
    model.set_rows([row("arr_0", parent="arr"), row("x"), row("arr")])
    assert list(model.visible) == ["x", "arr"]
    assert model.is_group("arr")


# --- marks ---------------------------------------------------------------------------------------


def test_marks_survive_updates_and_go_with_their_rows() -> None:
    model = model_with(row("a"), row("b"), row("c"))
    assert model.toggle_mark("a") and model.toggle_mark("b")
    model.set_rows([row("a", state="FAILED"), row("c")])
    assert model.marked == {"a"}
    assert not model.toggle_mark("a")
    assert model.marked == frozenset()
    model.toggle_mark("c")
    model.clear_marks()
    assert model.marked == frozenset()
    with pytest.raises(KeyError):
        model.toggle_mark("gone")


# --- cursor --------------------------------------------------------------------------------------


def test_cursor_follows_its_key_and_falls_to_the_row_at_its_old_index() -> None:
    model = model_with(row("a", "3"), row("b", "1"), row("c", "2"), row("d", "0"))
    assert model.cursor_key == "a"
    model.cursor_to(2)
    assert model.cursor_key == "c"
    model.sort("name")
    assert (model.cursor_key, model.cursor_index) == ("c", 2)
    model.set_rows([row("a", "3"), row("b", "1"), row("d", "0")])
    assert (model.cursor_key, model.cursor_index) == ("a", 2)
    model.filter("name:0")
    assert (model.cursor_key, model.cursor_index) == ("d", 0)
    model.set_rows([])
    assert (model.cursor_key, model.cursor_index) == (None, 0)
    assert model.move_cursor(1) is None


def test_move_cursor_clamps() -> None:
    model = model_with(row("a"), row("b"))
    assert model.move_cursor(-5) == "a"
    assert model.move_cursor(9) == "b"


# --- properties ----------------------------------------------------------------------------------

KEYS = [f"r{i}" for i in range(12)]
STATES = ["RUNNING", "FAILED", "QUEUED"]

row_strategy = st.builds(
    lambda key, name, state, reason, parent, style: TableRow(
        key, (name, state, reason), style=style, parent=parent if parent != key else None
    ),
    key=st.sampled_from(KEYS),
    name=st.sampled_from(["alpha", "beta", "gamma", "Alpha2"]),
    state=st.sampled_from(STATES),
    reason=st.sampled_from(["", "TIMEOUT", "OOM"]),
    parent=st.none() | st.sampled_from(KEYS[:3]),
    style=st.sampled_from(["", "red"]),
)
rows_strategy = st.lists(row_strategy, max_size=12, unique_by=lambda r: r.key)

operation = st.one_of(
    st.tuples(st.just("set_rows"), rows_strategy),
    st.tuples(st.just("sort"), st.none() | st.sampled_from(["name", "state", "reason"]), st.booleans()),
    st.tuples(st.just("filter"), st.sampled_from(["", "a", "state:failed", "name:alpha", "reason:o", "zzz"])),
    st.tuples(st.just("toggle"), st.sampled_from(KEYS)),
    st.tuples(st.just("move"), st.integers(-4, 4)),
)


def apply(model: TableModel, op: tuple) -> None:
    name, *args = op
    if name == "set_rows":
        model.set_rows(args[0])
    elif name == "sort":
        model.sort(*args)
    elif name == "filter":
        model.filter(args[0])
    elif name == "toggle":
        model.toggle(args[0])
    else:
        model.move_cursor(args[0])


@settings(max_examples=300)
@given(rows_strategy, st.lists(operation, max_size=12))
def test_cursor_stays_on_its_key_or_takes_the_row_at_its_old_index(rows: list[TableRow], ops: list) -> None:
    model = model_with(*rows)
    for op in ops:
        key, index = model.cursor_key, model.cursor_index
        apply(model, op)
        visible = list(model.visible)
        if not visible:
            assert model.cursor_key is None
        elif op[0] == "move":
            assert model.cursor_index == min(max(index + op[1], 0), len(visible) - 1)
        elif key in visible:
            assert model.cursor_key == key
        else:
            assert model.cursor_index == min(index, len(visible) - 1)
        if visible:
            assert visible[model.cursor_index] == model.cursor_key


@given(rows_strategy, rows_strategy)
def test_diff_is_exact(old: list[TableRow], new: list[TableRow]) -> None:
    model = model_with(*old)
    diff = model.set_rows(new)
    before = {r.key: r for r in old}
    after = {r.key: r for r in new}
    assert diff.added == tuple(k for k in after if k not in before)
    assert diff.removed == tuple(k for k in before if k not in after)
    assert diff.changed == {
        k: frozenset(i for i in range(3) if before[k].cells[i] != after[k].cells[i])
        for k in after
        if k in before and before[k] != after[k]
    }
    assert len(model) == len(new) and all(model.row(r.key) == r for r in new)


@settings(max_examples=300)
@given(rows_strategy, st.lists(operation, max_size=10))
def test_visible_rows_respect_groups_sort_and_filter(rows: list[TableRow], ops: list) -> None:
    model = model_with(*rows)
    for op in ops:
        apply(model, op)
        rows = op[1] if op[0] == "set_rows" else rows
    visible = list(model.visible)
    assert len(set(visible)) == len(visible)
    groups = {k for k in visible if model.is_group(k)}
    for i, key in enumerate(visible):
        if model.depth(key):  # a child sits right after its group or a sibling
            parent = model.row(key).parent
            previous = visible[i - 1]
            assert previous == parent or model.row(previous).parent == parent
            assert model.is_expanded(parent)
    for group in groups:
        shown = [k for k in visible if model.row(k).parent == group and model.depth(k)]
        assert bool(shown) == model.is_expanded(group)
    terms = model.filter_text.lower().split()

    def matches(key: str) -> bool:
        r = model.row(key)
        text = " ".join(r.cells).lower()
        columns = {"name": 0, "state": 1, "reason": 2}
        return all(
            t.split(":", 1)[1] in r.cells[columns[t.split(":")[0]]].lower() if ":" in t else t in text
            for t in terms
        )

    for key in visible:
        kids_match = model.is_group(key) and any(matches(r.key) for r in rows if r.parent == key)
        assert matches(key) or kids_match
    for r in rows:
        if matches(r.key) and model.depth(r.key):
            assert r.parent in visible and (r.key in visible) == model.is_expanded(r.parent)
        elif matches(r.key):
            assert r.key in visible
    top = [k for k in visible if not model.depth(k)]
    column = model.sort_column
    if column is not None:
        index = [c.key for c in COLUMNS].index(column)
        values = [model.row(k).cells[index] for k in top]
        assert values == sorted(values, reverse=model.sort_reverse)
