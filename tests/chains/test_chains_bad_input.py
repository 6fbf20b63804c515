"""Bad chains through the real CLI: a cycle, an `after` naming no job, an empty or reversed repeat
range each exit 2 with one line naming the manifest and the job, and nothing reaches the database."""

from __future__ import annotations

from pathlib import Path

SERIES = 'repeat = { var = "period", range = "0-2" }'


def jobs(*blocks: tuple[str, str]) -> str:
    """[[jobs]] tables, each a name and its extra TOML lines."""
    return "\n".join(
        f'[[jobs]]\nname = "{name}"\nscript = "chainjob.sh"\n{extra}\n' for name, extra in blocks
    )


CASES = {  # the manifest's jobs, and what the one line of error says after the file's name
    "cycle": (
        jobs(("train", 'after = ["evaluate"]'), ("evaluate", 'after = ["train"]')),
        'jobs[1] "train": after: cycle: train -> evaluate -> train',
    ),
    "cycle-onto-itself": (
        jobs(("train", 'after = ["train"]')),
        'jobs[1] "train": after: cycle: train -> train',
    ),
    "cycle-through-a-series": (
        jobs(("step", f'after = ["report"]\n{SERIES}'), ("report", 'after = ["step"]')),
        'jobs[1] "step": after: cycle: step-0 -> report -> step-2 -> step-1 -> step-0',
    ),
    "after-names-no-job": (
        jobs(("prep", ""), ("train", 'after = ["perp"]')),
        "jobs[2] \"train\": after: names no job: 'perp'",
    ),
    "series-after-names-no-job": (
        jobs(("step", f'after = ["nowhere"]\n{SERIES}')),
        "jobs[1] \"step\": after: names no job: 'nowhere'",
    ),
    "reversed-range": (
        jobs(("step", 'repeat = { var = "period", range = "19-0" }')),
        'jobs[1] "step": repeat.range: array range "19-0" is reversed',
    ),
    "empty-range": (
        jobs(("step", 'repeat = { var = "period", range = "" }')),
        'jobs[1] "step": repeat.range: empty array expression',
    ),
}


def manifests(deck) -> dict[str, Path]:
    """Every bad manifest, written for the deck's session."""
    written = {}
    for case, (blocks, _) in CASES.items():
        written[case] = deck.workdir / f"{case}.toml"
        written[case].write_text(f'[session]\nname = "{deck.session}"\n\n{blocks}')
    return written


def test_bad_chain_exits_2_with_one_line_naming_the_file_and_the_job(local_deck):
    deck = local_deck
    bad = manifests(deck)
    dbs = {case: deck.folder / case / "jobdeck.db" for case in bad}
    results = deck.run_all(
        *(["--db", str(dbs[case]), "submit", str(path), "--no-tui"] for case, path in bad.items())
    )
    for (case, path), result in zip(bad.items(), results, strict=True):
        assert (result.returncode, result.stdout) == (2, ""), (case, result)
        assert result.stderr.splitlines() == [f"jobdeck: error: {path}: {CASES[case][1]}"], (
            case,
            result.stderr,
        )
        assert not dbs[case].parent.exists()  # no database made for a manifest that was refused


def test_bad_chain_leaves_the_stored_sessions_untouched(local_deck):
    deck = local_deck
    deck.submit(deck.manifest([{"name": "kept", "args": ["--write", "out/kept.txt"]}], file="kept.toml"))
    before = (deck.json("sessions"), deck.rows())
    assert [s["name"] for s in before[0]] == [deck.session]
    results = deck.run_all(
        *(["--db", str(deck.db), "submit", str(path), "--no-tui"] for path in manifests(deck).values())
    )
    assert [r.returncode for r in results] == [2] * len(CASES), results
    assert (deck.json("sessions"), deck.rows()) == before
