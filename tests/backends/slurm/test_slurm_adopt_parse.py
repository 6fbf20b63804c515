"""What SLURM keeps of how a job was submitted, read back for adoption: real `scontrol show job -o`
lines, batch scripts and SubmitLines captured from the test cluster (capture_adopt.sh), and
properties of the pure readers."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from backends.slurm.commands import FIELD_SEP
from backends.slurm.parse import scontrol_fields
from backends.slurm.submit_line import (
    LONG_WITH_VALUE,
    SHORT_NAMES,
    SHORT_WITH_VALUE,
    header_options,
    submit_line,
)
from backends.slurm.submitted import NOT_REPEATED, command_args, log_template, restart_options, uid_of
from monitor.log_patterns import resolve_pattern

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "slurm"
WORKDIR = "/work/capture"


def fixture(name: str) -> str:
    return (FIXTURES / f"adopt_{name}.txt").read_text()


def job_ids() -> dict[str, str]:
    return dict(line.split("\t") for line in fixture("jobs").splitlines())


def sacct_rows() -> dict[str, list[str]]:
    return {line.split(FIELD_SEP)[0]: line.split(FIELD_SEP) for line in fixture("sacct").splitlines()}


def test_a_plain_job_gives_its_command_line_options_then_what_scontrol_adds() -> None:
    ids = job_ids()
    fields = scontrol_fields(fixture("scontrol_plain").splitlines()[0])
    typed = submit_line(sacct_rows()[ids["plain"]][4])
    header = header_options(fixture("script_plain"))
    assert typed.script == "run.sh" and typed.args == ("alpha", "two", "words", "it's")
    assert command_args(fields["Command"]) == ("alpha", "two", "words", "it's")  # the quoting is lost
    options = restart_options(typed, header, fields)
    # --parsable and --job-name are not repeated; -c comes from the kept script's #SBATCH line
    assert options[:2] == ("--time=5", "--mem=100M")
    assert set(options[2:]) == {
        "--partition=debug",
        "--nodes=1",
        "--ntasks=1",
        "--account=root",
        "--qos=normal",
    }
    assert header.value("output") == "run-%j.out"
    assert log_template(fields["StdOut"], fields["JobId"], None, header.value("output"), WORKDIR) == (
        f"{WORKDIR}/run-%j.out"
    )
    assert uid_of(fields["UserId"]) == 0 and uid_of(sacct_rows()[ids["plain"]][2]) == 0


def test_short_options_are_read_as_sbatch_reads_them() -> None:
    ids = job_ids()
    typed = submit_line(sacct_rows()[ids["short"]][4])
    fields = scontrol_fields(fixture("scontrol_short").splitlines()[0])
    assert [(o.name, o.value) for o in typed.options] == [
        ("parsable", None), ("job-name", "adopt-short"), ("time", "4"), ("ntasks", "1"), ("partition", "debug"),
    ]  # fmt: skip
    assert typed.script == "run.sh" and typed.args == ("-x", "--flag=1") == command_args(fields["Command"])
    options = restart_options(typed, header_options(fixture("script_short")), fields)
    assert options[:3] == ("--time=4", "--ntasks=1", "--partition=debug")
    assert "--cpus-per-task=1" not in options  # the script's own `#SBATCH -c 1` says it


def test_an_arrays_log_template_comes_back_from_its_option_or_its_resolved_paths() -> None:
    ids = job_ids()
    lines = [scontrol_fields(line) for line in fixture("scontrol_array").splitlines()]
    assert {f["ArrayTaskId"] for f in lines} == {"0", "1", "2"}
    typed = submit_line(sacct_rows()[f"{ids['array']}_0"][4])
    template = f"{WORKDIR}/arr-%A_%a.out"
    assert log_template(None, ids["array"], ids["array"], typed.value("output"), WORKDIR) == template
    for fields in lines:
        assert (
            log_template(fields["StdOut"], fields["JobId"], fields["ArrayJobId"], None, WORKDIR) == template
        )
    assert "--array=0-2" not in restart_options(typed, header_options(""), lines[0])


_WORD = st.text(st.sampled_from("abcXYZ019._/:,="), min_size=1, max_size=8)
_LONG = st.sampled_from(sorted(LONG_WITH_VALUE))
_SHORT = st.sampled_from(sorted(SHORT_WITH_VALUE))
_FLAG = st.sampled_from(["requeue", "exclusive", "parsable", "hold", "overcommit"])


@st.composite
def _option(draw: st.DrawFn) -> tuple[list[str], str, str | None]:
    """(words, long name, value) of one option in one of the ways sbatch takes it."""
    kind = draw(st.sampled_from(["long=", "long value", "short", "shortvalue", "flag"]))
    value = draw(_WORD)
    if kind == "flag":
        name = draw(_FLAG)
        return [f"--{name}"], name, None
    if kind in ("short", "shortvalue"):
        letter = draw(_SHORT)
        words = [f"-{letter}", value] if kind == "short" else [f"-{letter}{value}"]
        return words, SHORT_NAMES[letter], value
    name = draw(_LONG)
    return ([f"--{name}={value}"] if kind == "long=" else [f"--{name}", value]), name, value


@given(
    st.lists(_option(), max_size=6),
    st.text(st.sampled_from("abc/._"), min_size=1, max_size=10),
    st.lists(_WORD, max_size=4),
)
def test_a_submit_line_splits_into_its_options_script_and_arguments(
    options: list[tuple[list[str], str, str | None]], script: str, args: list[str]
) -> None:
    words = ["sbatch", *(w for option in options for w in option[0]), script, *args]
    line = submit_line(" ".join(words))
    assert [(o.name, o.value) for o in line.options] == [(name, value) for _, name, value in options]
    assert line.script == script and line.args == tuple(args)
    repeated = restart_options(line, header_options(""), {})
    assert not {word[2:].split("=", 1)[0] for word in repeated} & NOT_REPEATED


_LITERAL = st.text(st.sampled_from("abc-./"), min_size=1, max_size=6)  # IDs next to each other are one number


@given(
    st.lists(st.tuples(_LITERAL, st.sampled_from(["%j", "%A_%a", "%A"])), min_size=1, max_size=3),
    _LITERAL,
    st.integers(1, 10**7),
    st.integers(0, 10**4),
    st.booleans(),
)
def test_a_resolved_log_path_gives_its_template_back(
    parts: list[tuple[str, str]], tail: str, job_id: int, task: int, is_array: bool
) -> None:
    codes = [code for _, code in parts]
    if not is_array and any(code != "%j" for code in codes):
        codes = ["%j"] * len(codes)
    template = "/" + "".join(literal + code for (literal, _), code in zip(parts, codes, strict=True)) + tail
    array_id = job_id + 1 + task if is_array else None  # a task's own ID differs from its array's
    if is_array:
        resolved = resolve_pattern(template, job_id=str(job_id), array_job_id=str(array_id), task=task)
        resolved = resolved.replace("%j", str(job_id))
    else:
        resolved = resolve_pattern(template, job_id=str(job_id))
    back = log_template(resolved, str(job_id), None if array_id is None else str(array_id), None, "/w")
    assert back == template
