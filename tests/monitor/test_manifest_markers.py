"""The `markers` job field: regular expressions checked at load, inherited from [defaults], carried
into every task's JobSpec."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from backends.registry import load_manifest
from monitor.expand import expand_manifest
from monitor.manifest import Manifest, ManifestError

HEAD = '[session]\nname = "s"\n'


def load(folder: Path, text: str, name: str = "m.toml") -> Manifest:
    path = folder / name
    path.write_text(text)
    return load_manifest(path)


def test_markers_reach_every_task_and_defaults_apply(tmp_path: Path) -> None:
    manifest = load(
        tmp_path,
        HEAD
        + "[defaults]\nmarkers = ['^ERROR', 'step \\d+ done']\n"
        + '[[jobs]]\nname = "inherits"\nscript = "x.sh"\narray = "0-1"\n'
        + '[[jobs]]\nname = "own"\nscript = "x.sh"\nmarkers = ["NaN loss"]\n'
        + '[[jobs]]\nname = "none"\nscript = "x.sh"\nmarkers = []\n',
    )

    specs = {(d.name, d.task): d.spec.markers for d in expand_manifest(manifest)}

    assert specs == {
        ("inherits", 0): ("^ERROR", r"step \d+ done"),
        ("inherits", 1): ("^ERROR", r"step \d+ done"),
        ("own", None): ("NaN loss",),
        ("none", None): (),
    }


def test_a_job_without_markers_has_none(tmp_path: Path) -> None:
    (definition,) = expand_manifest(load(tmp_path, HEAD + '[[jobs]]\nname = "a"\nscript = "x.sh"\n'))
    assert definition.spec.markers == ()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            HEAD + '[[jobs]]\nname = "a"\nscript = "x.sh"\nmarkers = ["ok", "(unclosed"]\n',
            'jobs[1] "a": markers: item 2: bad regular expression "(unclosed": missing ), unterminated '
            "subpattern at position 0",
        ),
        (
            HEAD + "[defaults]\nmarkers = ['[z-a]']\n" + '[[jobs]]\nname = "a"\nscript = "x.sh"\n',
            'defaults.markers: item 1: bad regular expression "[z-a]": bad character range z-a at position 1',
        ),
        (
            HEAD + '[[jobs]]\nname = "a"\nscript = "x.sh"\nmarkers = "ERROR"\n',
            'jobs[1] "a": markers: expected a list of regular expressions, got string',
        ),
        (
            HEAD + '[[jobs]]\nname = "a"\nscript = "x.sh"\nmarkers = ["ERROR", 3]\n',
            'jobs[1] "a": markers: expected a list of regular expressions, got int (item 2)',
        ),
    ],
)
def test_a_bad_marker_is_one_line_naming_the_job_and_field(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ManifestError) as caught:
        load(tmp_path, text)
    message = str(caught.value)
    assert "\n" not in message
    assert message == f"{tmp_path / 'm.toml'}: {expected}"


def test_a_marker_with_a_newline_is_reported_on_one_line(tmp_path: Path) -> None:
    with pytest.raises(ManifestError) as caught:
        load(
            tmp_path,
            '{"session": {"name": "s"}, "jobs": [{"name": "a", "script": "x", "markers": ["(\\n"]}]}',
            "m.json",
        )
    assert "\n" not in str(caught.value)
    assert re.search(r'markers: item 1: bad regular expression "\(\\n"', str(caught.value))
