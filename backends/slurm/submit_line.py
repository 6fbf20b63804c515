"""sbatch's command-line grammar, to read back a command line SLURM kept (accounting's SubmitLine,
the `#SBATCH` lines of a batch script): which words are options, which is the script, which are its
arguments. Pure. SLURM keeps these lines joined by spaces, so an argument that held a space comes
back as several words: nobody can tell them apart any more."""

from __future__ import annotations

from dataclasses import dataclass

SHORT_WITH_VALUE = frozenset("AaBbCcDdeFGiJLMmNnopqStwx")
"""sbatch's one-letter options that take a value (`-t 5`, `-t5`); the other letters are flags."""

SHORT_NAMES = {
    "A": "account", "a": "array", "B": "extra-node-info", "b": "begin", "C": "constraint",
    "c": "cpus-per-task", "D": "chdir", "d": "dependency", "e": "error", "F": "nodefile", "G": "gpus",
    "H": "hold", "i": "input", "J": "job-name", "k": "no-kill", "L": "licenses", "M": "clusters",
    "m": "distribution", "N": "nodes", "n": "ntasks", "O": "overcommit", "o": "output",
    "p": "partition", "Q": "quiet", "q": "qos", "S": "core-spec", "s": "oversubscribe", "t": "time",
    "v": "verbose", "W": "wait", "w": "nodelist", "x": "exclude",
}  # fmt: skip

LONG_WITH_VALUE = frozenset(
    """
    account acctg-freq array batch bb bbf begin chdir cluster-constraint clusters comment constraint
    container core-spec cores-per-socket cpu-freq cpus-per-gpu cpus-per-task deadline delay-boot
    dependency distribution error exclude export export-file extra-node-info gid gpu-bind gpu-freq
    gpus gpus-per-node gpus-per-socket gpus-per-task gres gres-flags hint input job-name
    kill-on-invalid-dep licenses mail-type mail-user mcs-label mem mem-bind mem-per-cpu mem-per-gpu
    mincpus network nodefile nodelist nodes ntasks ntasks-per-core ntasks-per-gpu ntasks-per-node
    ntasks-per-socket open-mode output partition power prefer priority profile qos reservation
    signal sockets-per-node switches thread-spec threads-per-core time time-min tmp uid wckey wrap
    """.split()  # noqa: SIM905 - the list reads like sbatch's manual
)
"""sbatch's long options whose value may be the next word; the others are flags or take an
optional value only after `=` (--exclusive[=user], --nice[=N], --requeue)."""


@dataclass(frozen=True, slots=True)
class Option:
    """One option as given: its long name, its value (None for a flag) and its words."""

    name: str
    value: str | None
    words: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CommandLine:
    """An sbatch command line read back: its options in order, the script and its arguments."""

    options: tuple[Option, ...]
    script: str | None  # None with --wrap, or when the line ends before a script
    args: tuple[str, ...]

    def value(self, name: str) -> str | None:
        """The last value given to option `name` (long name), as sbatch would take it."""
        found = [o.value for o in self.options if o.name == name]
        return found[-1] if found else None


def read_options(words: list[str], *, command: bool) -> CommandLine:
    """Options up to the first word that is not one; `command`: the words start with sbatch itself."""
    options: list[Option] = []
    rest = words[1:] if command and words else list(words)
    i = 0
    while i < len(rest):
        word = rest[i]
        if word == "--":
            i += 1
            break
        if word.startswith("--") and len(word) > 2:
            name, eq, value = word[2:].partition("=")
            if eq:
                options.append(Option(name, value, (word,)))
            elif name in LONG_WITH_VALUE and i + 1 < len(rest):
                options.append(Option(name, rest[i + 1], (word, rest[i + 1])))
                i += 1
            else:
                options.append(Option(name, None, (word,)))
            i += 1
            continue
        if word.startswith("-") and len(word) > 1:
            taken, i = _short(word, rest, i)
            options += taken
            continue
        break
    remaining = rest[i:]
    script = remaining[0] if remaining else None
    return CommandLine(tuple(options), script, tuple(remaining[1:]))


def _short(word: str, rest: list[str], i: int) -> tuple[list[Option], int]:
    """A word of one-letter options ("-Hv", "-c2", "-t 5"), getopt's way; the index after it."""
    options = []
    for at, letter in enumerate(word[1:], 1):
        name = SHORT_NAMES.get(letter, letter)
        if letter not in SHORT_WITH_VALUE:
            options.append(Option(name, None, (f"-{letter}",)))
            continue
        attached = word[at + 1 :]
        if attached:
            options.append(Option(name, attached, (f"-{letter}", attached)))
            return options, i + 1
        if i + 1 < len(rest):
            options.append(Option(name, rest[i + 1], (f"-{letter}", rest[i + 1])))
            return options, i + 2
        options.append(Option(name, None, (f"-{letter}",)))
    return options, i + 1


def submit_line(text: str) -> CommandLine:
    """Accounting's SubmitLine ("sbatch --time=5 run.sh alpha two words"), split on whitespace:
    the quoting is not kept."""
    return read_options(text.split(), command=True)


def header_options(script_text: str) -> CommandLine:
    """The options of a batch script's `#SBATCH` lines, read where sbatch reads them: in the leading
    block of comments and blank lines."""
    words: list[str] = []
    for line in script_text.splitlines():
        stripped = line.strip()
        if line.startswith("#SBATCH"):
            words += line[len("#SBATCH") :].split("#", 1)[0].split()
        elif stripped and not stripped.startswith("#"):
            break
    return read_options(words, command=False)
