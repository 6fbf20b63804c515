"""File names are data. Outputs named with spaces, quotes, newlines, globs, `$(...)` and backticks
are checked literally (present ones verified, missing ones missing) and never executed: by every
way jobdeck looks at files, and end to end on the real SLURM cluster, locally and over SSH.
"""

from __future__ import annotations

import hashlib
import tempfile
import uuid
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


def tricky_names(canary: str, folder: Path) -> list[str]:
    """Names a shell would mangle or run; the last ones create `canary` if anything evaluates them."""
    return [
        "with space.txt",
        " leading and trailing space ",
        "two  spaces  like sha256sum's separator",
        'it\'s "quoted".txt',
        "new\nline.txt",
        "ends with a newline\n",
        "tab\tinside.txt",
        "star*?[ab].txt",
        "back\\slash\\n.txt",
        "-dash-first.txt",
        "%s\t%n percent.txt",
        "brace{1}.txt",
        "héllo wörld ✓ 日本 😀.txt",
        "$HOME ${PATH} ~.txt",
        "\x01\x1b[31mcontrol.txt",
        ".hidden",
        f"$(touch {canary}).txt",
        f"`touch {canary}`.txt",
        f"'; touch {canary}; '",
        f"| touch {canary} &",
        f"$(touch {folder}/{canary})",
    ]


def canaries(canary: str, folder: Path) -> list[Path]:
    """Every canary the names could have created: anywhere in the test's folder, or directly where
    a shell could have run (home, this process's folder, /, /tmp)."""
    shallow = {Path.home(), Path.cwd(), Path("/"), Path(tempfile.gettempdir())}
    return [*folder.rglob(canary), *(place / canary for place in shallow if (place / canary).exists())]


def template(text: str) -> str:
    """Literal text as a manifest template (braces doubled)."""
    return text.replace("{", "{{").replace("}", "}}")


async def test_tricky_names_are_checked_literally(checker: Any, tmp_path: Path) -> None:
    canary = f"CANARY-{uuid.uuid4().hex[:8]}"
    names = tricky_names(canary, tmp_path)
    present = {str(tmp_path / "present" / name): name.encode() for name in names}
    for path, content in present.items():
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(content)
    missing = [f"{path}.gone" for path in present] + [str(tmp_path / "absent" / name) for name in names]

    found = await checker.stat_paths([*present, *missing], checksum=True)

    assert sorted(found) == sorted([*present, *missing])
    assert {path: (s.size, s.sha256) for path, s in found.items() if s is not None} == {
        path: (len(content), hashlib.sha256(content).hexdigest()) for path, content in present.items()
    }
    assert sorted(path for path, s in found.items() if s is None) == sorted(missing)
    assert canaries(canary, tmp_path) == []


names = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\0/"), min_size=1, max_size=24)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(files=st.lists(st.tuples(names, st.booleans()), min_size=1, max_size=6, unique_by=lambda f: f[0]))
async def test_any_name_is_found_exactly_when_it_exists(
    checker: Any, tmp_path: Path, files: list[tuple[str, bool]]
) -> None:
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    paths = {str(folder / name): exists for name, exists in files if name not in (".", "..")}
    for path, exists in paths.items():
        if exists:
            Path(path).write_bytes(b"out")

    found = await checker.stat_paths(list(paths))

    assert {path: stat is not None for path, stat in found.items()} == paths
    assert all(stat.size == 3 for stat in found.values() if stat is not None)


def test_tricky_output_names_end_to_end(deck: Any) -> None:
    canary = f"CANARY-{uuid.uuid4().hex[:8]}"
    names = tricky_names(canary, deck.folder)
    job = {
        "name": "names",
        "script": "write.sh",
        "args": [word for name in names for word in ("1", template(f"present/{name}"))],
        "outputs": [template(f"{where}/{name}") for where in ("present", "absent") for name in names],
    }
    deck.submit({"name": "s", "validate_grace": 1, "poll_interval": 1}, [job])
    rows = deck.sync_until("s")

    total = 2 * len(names)
    assert (rows["names", None]["state"], rows["names", None]["reason"]) == (
        "PARTIAL",
        f"{len(names)} of {total} outputs missing",
    )
    present = [deck.workdir / "present" / name for name in names]
    absent = [deck.workdir / "absent" / name for name in names]
    assert [p.read_text() for p in present] == ["x"] * len(names)
    (checked,) = deck.json("validate", "s/names", "--force")
    assert (checked["state"], checked["verified"], checked["expected"]) == ("PARTIAL", len(names), total)
    assert checked["missing"] == [str(p) for p in absent]
    outputs = deck.json("status", "s/names")["outputs"]
    assert {o["path"]: o["present"] for o in outputs} == {
        **{str(p): True for p in present},
        **{str(p): False for p in absent},
    }
    assert canaries(canary, deck.folder) == []
