"""The manifest: what a session runs, on which cluster, and what each job must leave behind.

A TOML, YAML or JSON file is read into strict pydantic models (unknown keys are errors), then checked
across sections (clusters named by jobs, [defaults], placeholders, paths) so that every mistake is
reported as one line naming the file and the field, before anything is submitted.
"""

from __future__ import annotations

import functools
import json
import os
import posixpath
import re
import stat
import tomllib
import unicodedata
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from dataclasses import field as default_factory_field
from pathlib import Path
from typing import Annotated, Any, ClassVar, Generic, TypeVar, Union

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
)

from monitor.arrays import parse_array
from monitor.chain_manifest import ChainError, Stage, expand_chains
from monitor.errors import InputError
from monitor.protocols import Backend
from monitor.templates import placeholders

MAX_BYTES = 10 * 1024 * 1024
MAX_NAME = 200
_UNPRINTABLE = frozenset({"Cc", "Cs", "Zl", "Zp"})  # control, lone surrogate, line/paragraph separator
_SURROGATE = re.compile("[\ud800-\udfff]")
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


class ManifestError(InputError):
    """A manifest that cannot be used; str() is one line: "<file>: <where>: <what>"."""

    def __init__(self, source: str | os.PathLike[str], detail: str) -> None:
        self.source = os.fspath(source)
        self.detail = detail
        super().__init__(_one_line(f"{self.source}: {detail}"))


class _Problem(Exception):
    """A mistake at a location in the document, turned into a ManifestError by load_manifest."""

    def __init__(self, loc: tuple[Any, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc
        self.message = message


def _one_line(text: str) -> str:
    return "".join(f"\\u{ord(c):04x}" if unicodedata.category(c) in _UNPRINTABLE else c for c in text)


def quoted(value: str) -> str:
    """A user's string for a one-line message: double-quoted, escaped, cut to 80 characters."""
    return json.dumps(value if len(value) <= 80 else value[:80] + "…", ensure_ascii=False)


def _kind_of(value: Any) -> str:
    """The manifest-language name of a value's type ("got int", "got table")."""
    kinds = {bool: "bool", int: "int", float: "float", str: "string", list: "list", dict: "table"}
    return "null" if value is None else kinds.get(type(value), type(value).__name__)


def check_name(value: str) -> str:
    """Session, cluster and job names: anything printable on one line except the characters that
    delimit job references (session/name[3]). Shell syntax is fine: names are never executed."""
    if not value:
        raise ValueError("must not be empty")
    if len(value) > MAX_NAME:
        raise ValueError(f"longer than {MAX_NAME} characters")
    for char in value:
        if unicodedata.category(char) in _UNPRINTABLE:
            raise ValueError(f"contains the control character U+{ord(char):04X}")
        if char in "/[]":
            raise ValueError(f'contains "{char}", which delimits job references like session/name[3]')
    if value != value.strip():
        raise ValueError("has leading or trailing whitespace")
    return value


def _check_path(value: str) -> str:
    if not value:
        raise ValueError("must not be empty")
    if "\0" in value:
        raise ValueError("contains a NUL character")
    return value


def _check_list(value: Any, what: str, kinds: tuple[type, ...]) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError(f"expected a list of {what}, got {_kind_of(value)}")
    for position, item in enumerate(value, 1):
        if not isinstance(item, kinds):
            raise ValueError(f"expected a list of {what}, got {_kind_of(item)} (item {position})")
    return value


def _list_of(what: str, *kinds: type) -> BeforeValidator:
    return BeforeValidator(lambda value: _check_list(value, what, kinds))


Name = Annotated[str, AfterValidator(check_name)]
PathText = Annotated[str, AfterValidator(_check_path)]
Strings = Annotated[list[str], _list_of("strings", str)]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False, frozen=True)


class SessionConfig(_Strict):
    name: Name
    description: str | None = None
    poll_interval: float = Field(5.0, gt=0)  # seconds between polls
    validate_grace: float = Field(30.0, ge=0)  # how long a shared filesystem may take to show outputs
    lost_grace: float = Field(600.0, gt=0)  # how long a job may be unknown everywhere before LOST
    intent_grace: float = Field(120.0, ge=0)  # how long an unsettled submission may still be on its way
    stuck_queued: float = Field(6 * 3600.0, gt=0)  # seconds queued before a warning
    stalled_log: float = Field(1800.0, gt=0)  # seconds a running job's log may not grow before a warning


def check_host(value: str) -> str:
    """A host name for SSH: no option-like or blank text reaches the ssh client."""
    if not value or value.startswith("-") or any(c.isspace() or not c.isprintable() for c in value):
        raise ValueError(f"not a host name: {quoted(value)}")
    return value


Host = Annotated[str, AfterValidator(check_host)]
JobProblem = Callable[[tuple[Any, ...], str], Exception]
"""Builds the error for a field of the job being checked (its location and what is wrong)."""


class ClusterConfig(_Strict, ABC):
    """A [clusters.NAME] table. Each backend extends this model with its own fields (an unknown or
    foreign key is an error) and is chosen by its `backend` field; backends/registry.py lists them.
    Once loaded, `name` is the table's key, `workdir` is absolute and the files named in LOCAL_FILES
    are resolved against the manifest's folder."""

    backend: str
    name: str = ""  # the table's key, filled in when the manifest is loaded; never written in one
    workdir: PathText | None = None

    LOCAL_FILES: ClassVar[tuple[str, ...]] = ()  # fields naming files on this machine
    UNUSED_JOB_FIELDS: ClassVar[Mapping[str, str]] = {}  # job field -> why a job here may not set it

    @property
    def remote(self) -> bool:
        """True when the cluster's paths are not this machine's: its workdir must be absolute."""
        return False

    @property
    def root(self) -> str:
        """The absolute workdir of a loaded cluster."""
        assert self.workdir is not None, "a loaded cluster has its workdir"
        return self.workdir

    @property
    def paths_are_local(self) -> bool:
        """True when the cluster's paths are this machine's, so "~" means this user's home here."""
        return not self.remote

    def problem(self) -> tuple[str, str] | None:
        """A mistake across this table's fields, as (field, message)."""
        return None

    def checked_job(self, job: JobConfig, folder: Path, problem: JobProblem) -> JobConfig:
        """The job as this cluster runs it, once the fields it needs are there."""
        if job.script is None:
            raise problem(("script",), "field required")
        return job

    def job_extra(self, job: JobConfig) -> dict[str, Any]:
        """What the backend builds the job from besides its arguments, stored with it (JobSpec.extra).
        ValueError says what is wrong, starting with the field."""
        return {}

    @abstractmethod
    def open_backend(self, local_state: Path, session: str | None) -> Backend:
        """The backend that drives this cluster; `local_state` is where a backend may keep files of
        its own, `session` narrows what it lists (connections open on the first command)."""


ClusterKinds = tuple[type[ClusterConfig], ...]
"""The cluster models a manifest may use, one per backend (backends/registry.py)."""


def _sha256(value: str) -> str:
    if not re.fullmatch(r"[0-9a-fA-F]{64}", value):
        raise ValueError(f"expected 64 hexadecimal digits, got {quoted(value)}")
    return value.lower()


class OutputConfig(_Strict):
    path: PathText  # template: {task} {name} {session} {attempt}
    non_empty: bool = False
    min_size: int | None = Field(None, ge=0)
    sha256: Annotated[str, AfterValidator(_sha256)] | None = None


def _output_tables(value: Any) -> list[Any]:
    _check_list(value, "paths or tables", (str, dict))
    return [{"path": item} if isinstance(item, str) else item for item in value]


_OPTION_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
# Options jobdeck sets itself, from the field that says the same thing; a second value would break tagging.
_RESERVED = {
    **dict.fromkeys(("job-name", "J"), "the job's name"),
    **dict.fromkeys(("array", "a"), 'the "array" field'),
    **dict.fromkeys(("output", "o"), 'the "log" field'),
    **dict.fromkeys(("error", "e"), 'the "err" field'),
    **dict.fromkeys(("chdir", "D"), 'the cluster\'s "workdir"'),
    "comment": "jobdeck's job tag",
    "parsable": "jobdeck's own submission",
    "wrap": 'the "script" field',
}


def _sbatch_options(value: Any) -> list[str]:
    """Option strings as written, or a table {time = 1, exclusive = true} as ["--time=1", "--exclusive"]."""
    if isinstance(value, dict):
        options = []
        for key, setting in value.items():
            if not isinstance(key, str) or not _OPTION_NAME.fullmatch(key):
                raise ValueError(f"bad option name {quoted(str(key))} (write long names without dashes)")
            if isinstance(setting, bool):
                options.extend([f"--{key}"] if setting else [])
            elif isinstance(setting, str | int):
                options.append(f"--{key}={setting}")
            else:
                raise ValueError(f"{key}: expected a string, an integer or a bool, got {_kind_of(setting)}")
    else:
        options = _check_list(value, "option strings or a table", (str,))
    for option in options:
        if not option.startswith("-"):
            raise ValueError(f'{quoted(option)} is not an option (options start with "-")')
        name = option[2:].split("=", 1)[0] if option.startswith("--") else option[1:2]
        if name in _RESERVED:
            raise ValueError(f"{quoted(option)} conflicts with {_RESERVED[name]}")
    return options


def _array_expression(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f'expected a string such as "0-9" or "1,3,5-7", got {_kind_of(value)}')
    return parse_array(value).expression


_REASONS = {
    word.lower(): word
    for word in (
        *("TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "BOOT_FAIL", "DEADLINE", "PREEMPTED", "SPECIAL_EXIT"),
        *("OOMKilled", "Evicted", "BackoffLimitExceeded", "DeadlineExceeded"),
    )
}


def _restart_reasons(value: Any) -> list[str]:
    reasons = []
    for reason in _check_list(value, "reasons", (str,)):
        exit_code = re.fullmatch(r"exit:([0-9]{1,3})", reason)
        if exit_code and int(exit_code[1]) <= 255:
            reasons.append(reason)
        elif reason.lower() in _REASONS:
            reasons.append(_REASONS[reason.lower()])
        else:
            known = ", ".join(_REASONS.values())
            raise ValueError(f"unknown reason {quoted(reason)} (expected exit:N or one of {known})")
    return reasons


def _repeat_var(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
        raise ValueError(f"expected a placeholder name (letters, digits, _), got {quoted(value)}")
    if value in ("task", "name", "session", "attempt"):
        raise ValueError(f'"{value}" is already a placeholder of its own')
    return value


def _markers(value: Any) -> list[str]:
    """Regular expressions, compiled now so that a bad one is reported before anything runs."""
    patterns: list[str] = _check_list(value, "regular expressions", (str,))
    for position, pattern in enumerate(patterns, 1):
        try:
            re.compile(pattern)
        except re.error as error:
            raise ValueError(f"item {position}: bad regular expression {quoted(pattern)}: {error}") from None
    return patterns


class RestartConfig(_Strict):
    on: Annotated[list[str], BeforeValidator(_restart_reasons)] = []
    max_attempts: int = Field(1, ge=1)
    backoff: float = Field(0.0, ge=0)  # seconds
    requeue: bool = False


class RepeatConfig(_Strict):
    """A generated series: one stage per value, each after the previous, each given its value."""

    var: Annotated[str, AfterValidator(_repeat_var)]
    range: Annotated[str, BeforeValidator(_array_expression)]


class _JobFields(_Strict):
    cluster: Name | None = None
    script: PathText | None = None
    args: Strings = []  # templates: {task} {name} {session}
    sbatch: Annotated[list[str], BeforeValidator(_sbatch_options)] = []
    array: Annotated[str | None, BeforeValidator(_array_expression)] = None  # normalised expression
    log: PathText | None = None  # SLURM patterns (%j %x %A %a ...); braces are literal
    err: PathText | None = None
    outputs: Annotated[list[OutputConfig], BeforeValidator(_output_tables)] = []
    restart: RestartConfig = RestartConfig()
    markers: Annotated[list[str], BeforeValidator(_markers)] = []  # log lines to record as events
    image: str | None = None  # kubernetes: the container image
    command: Strings = []  # kubernetes: the program the container runs, before the task's args
    job_template: PathText | None = None  # kubernetes: a Job YAML file that jobdeck fills in
    backoff_limit: int = Field(0, ge=0)  # kubernetes: how often a pod is retried (each index's, for an array)
    after: Annotated[list[Name], _list_of("strings", str)] = []  # jobs that must be SUCCEEDED first
    repeat: RepeatConfig | None = None  # expands into stages NAME-0, NAME-1, ... (a chain)


class DefaultsConfig(_JobFields):
    """[defaults]: job fields applied to every job that does not set them."""


class JobConfig(_JobFields):
    """A [[jobs]] entry; in a loaded Manifest, with [defaults] applied and the cluster filled in."""

    name: Name


C = TypeVar("C", bound=ClusterConfig)


class _Document(_Strict, Generic[C]):
    session: SessionConfig
    clusters: dict[str, C] = {}
    defaults: DefaultsConfig = DefaultsConfig()
    jobs: Annotated[list[JobConfig], _list_of("tables", dict)]


@dataclass(frozen=True, slots=True)
class Manifest:
    """A loaded, checked manifest. Paths in it are as written; expand_manifest makes them absolute."""

    path: Path  # resolved
    session: SessionConfig
    clusters: dict[str, ClusterConfig]
    jobs: tuple[JobConfig, ...]  # a `repeat` job appears as its generated stages
    stages: dict[str, Stage] = default_factory_field(
        default_factory=dict
    )  # generated stage name -> its place

    @property
    def folder(self) -> Path:
        return self.path.parent

    def cluster_of(self, job: JobConfig) -> ClusterConfig:
        return self.clusters[job.cluster or ""]

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready) to store with the session, so it can be shown after a re-attach."""
        return {
            "path": str(self.path),
            "session": self.session.model_dump(mode="json"),
            "clusters": {
                name: {"name": name, **c.model_dump(mode="json")} for name, c in self.clusters.items()
            },
            "jobs": [{"name": job.name, **job.model_dump(mode="json")} for job in self.jobs],
        }


@functools.cache
def _document(kinds: ClusterKinds) -> type[_Document[Any]]:
    """The document's model with a cluster table that is one of `kinds`, by its `backend` field."""
    return _Document[Annotated[Union[kinds], Field(discriminator="backend")]]  # type: ignore[valid-type]  # noqa: UP007


def read_manifest(path: str | os.PathLike[str], kinds: ClusterKinds) -> Manifest:
    """Read and check a manifest whose clusters are of `kinds`; every problem is a ManifestError
    with a one-line message."""
    source = Path(path)
    parse = _PARSERS.get(source.suffix.lower())
    if parse is None:
        found = f'unsupported extension "{source.suffix}"' if source.suffix else "no file extension"
        raise ManifestError(path, f"{found} (expected .toml, .yaml, .yml or .json)")
    document: Any = None
    try:
        document = parse(_read_text(source))
        _check_unicode(document)
        if not isinstance(document, dict):
            raise _Problem((), f"the top-level document must be a table, got {_kind_of(document)}")
        return _resolve(_document(kinds).model_validate(document), source.resolve(), kinds)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        loc = first["loc"][:-1] if first["type"] == "invalid_key" else first["loc"]  # the key is no place
        if loc[:1] == ("clusters",) and len(loc) >= 2:
            loc, message = _cluster_error(first, loc, kinds)
        else:
            message = _describe(first)
        raise ManifestError(path, _located(loc, message, document)) from None
    except _Problem as problem:
        raise ManifestError(path, _located(problem.loc, problem.message, document)) from None


def _read_text(path: Path) -> str:
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise _Problem((), "is a directory")
        if not stat.S_ISREG(info.st_mode):
            raise _Problem((), "not a regular file")
        if info.st_size > MAX_BYTES:
            raise _Problem((), "larger than 10 MB")
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except (FileNotFoundError, NotADirectoryError):
        raise _Problem((), "no such file") from None
    except PermissionError:
        raise _Problem((), "permission denied") from None
    except (OSError, ValueError) as error:  # ValueError: a NUL in the path
        raise _Problem((), f"cannot read: {getattr(error, 'strerror', None) or error}") from None
    if len(data) > MAX_BYTES:
        raise _Problem((), "larger than 10 MB")
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as error:
        raise _Problem(
            (), f"not valid UTF-8 (byte 0x{data[error.start]:02x} at offset {error.start})"
        ) from None


def _parser(
    language: str, parse: Callable[[str], Any], position: Callable[[Exception, str], str | None]
) -> Callable[[str], Any]:
    """Wrap a parser so that any failure, however deep or strange the input, is one _Problem."""

    def run(text: str) -> Any:
        try:
            return parse(text)
        except RecursionError:
            raise _Problem((), f"invalid {language}: nested too deeply") from None
        except (ValueError, yaml.YAMLError) as error:
            where = position(error, text)
            message = f"invalid {language}: {_reason(error)}"
            raise _Problem((), f"{where}: {message}" if where else message) from None

    return run


def _reason(error: Exception) -> str:
    if isinstance(error, json.JSONDecodeError):
        text = error.msg
    elif isinstance(error, yaml.MarkedYAMLError) and error.problem:  # "while parsing X", "expected Y"
        text = f"{error.context}, {error.problem}" if error.context else error.problem
    else:  # TOML's "(at line 4, column 7)" is reported in front, like the others' positions
        text = re.sub(r" \(at (line \d+, column \d+|end of document)\)$", "", str(error)).strip()
    first = text.splitlines()[0] if text else type(error).__name__
    return first[:1].lower() + first[1:]


def _toml_position(error: Exception, text: str) -> str | None:
    if match := re.search(r"\(at line (\d+), column (\d+)\)$", str(error)):
        return f"line {match[1]}, column {match[2]}"
    if str(error).endswith("(at end of document)"):
        lines = text.split("\n")
        return f"line {len(lines)}, column {len(lines[-1]) + 1}"
    return None


def _json_position(error: Exception, text: str) -> str | None:
    return f"line {error.lineno}, column {error.colno}" if isinstance(error, json.JSONDecodeError) else None


def _yaml_position(error: Exception, text: str) -> str | None:
    mark = getattr(error, "problem_mark", None)
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else None


class _YamlLoader(yaml.SafeLoader):
    """yaml.safe_load with YAML 1.2 scalars: `on`/`yes`/`no` stay strings (restart.on works) and
    `1:30:00` stays a string (a --time is not silently read as the base-60 number 5400)."""


_YamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if not tag.endswith((":bool", ":int", ":float"))]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_YamlLoader.add_implicit_resolver("tag:yaml.org,2002:int", re.compile(r"^[-+]?[0-9]+$"), list("-+0123456789"))
_YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+|[0-9]+(?=[eE]))(?:[eE][-+]?[0-9]+)?$|^[-+]?\.(?:inf|Inf|INF)$"
    ),
    list("-+0123456789."),
)
_YamlLoader.add_implicit_resolver("tag:yaml.org,2002:float", re.compile(r"^\.(?:nan|NaN|NAN)$"), ["."])


def _yaml_int(loader: yaml.SafeLoader, node: yaml.Node) -> int:
    assert isinstance(node, yaml.ScalarNode)  # the int resolver matches scalars only
    return int(loader.construct_scalar(node))


_YamlLoader.add_constructor("tag:yaml.org,2002:int", _yaml_int)

_PARSERS = {
    ".toml": _parser("TOML", tomllib.loads, _toml_position),
    ".json": _parser("JSON", json.loads, _json_position),
    ".yaml": _parser("YAML", lambda text: yaml.load(text, Loader=_YamlLoader), _yaml_position),
}
_PARSERS[".yml"] = _PARSERS[".yaml"]


def _check_unicode(document: Any) -> None:
    """A JSON escape like "\\ud800" yields a lone surrogate, which can be neither stored nor printed."""
    stack, seen = [document], set()
    while stack:
        item = stack.pop()
        if isinstance(item, str) and _SURROGATE.search(item):
            raise _Problem(
                (), "contains a lone surrogate escape (such as \\ud800), which is not valid Unicode"
            )
        if isinstance(item, dict | list) and id(item) not in seen:  # YAML aliases share objects
            seen.add(id(item))
            stack.extend([*item.keys(), *item.values()] if isinstance(item, dict) else item)


_EXPECTED = {
    "string_type": "a string",
    "int_type": "an integer",
    "float_type": "a number",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "a table",
    "model_type": "a table",
}
_BOUNDS = {"greater_than": "gt", "greater_than_equal": "ge", "less_than": "lt", "less_than_equal": "le"}
_BOUND_WORDS = {"gt": "greater than", "ge": "at least", "lt": "less than", "le": "at most"}


def _describe(error: Any) -> str:
    """A pydantic error as a short sentence in the manifest's terms (no pydantic wording escapes)."""
    kind, ctx, value = error["type"], error.get("ctx") or {}, error.get("input")
    if kind == "missing":
        return "field required"
    if kind == "extra_forbidden":
        return "unknown key"
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {_kind_of(value)}"
    if kind == "literal_error":
        choices = ", ".join(f'"{choice}"' for choice in re.findall(r"'([^']*)'", ctx.get("expected", "")))
        shown = quoted(value) if isinstance(value, str) else _kind_of(value)
        return f"expected one of {choices}, got {shown}"
    if kind in _BOUNDS:
        bound = ctx.get(_BOUNDS[kind])
        bound = int(bound) if isinstance(bound, float) and bound.is_integer() else bound
        return f"must be {_BOUND_WORDS[_BOUNDS[kind]]} {bound}, got {value}"
    if kind == "finite_number":
        return f"must be a finite number, got {value}"
    if kind == "invalid_key":
        return f"keys must be strings, got {_kind_of(value)}"
    if kind == "value_error" and "error" in ctx:
        return str(ctx["error"])
    return str(error.get("msg", kind)).splitlines()[0]


def _located(loc: tuple[Any, ...], message: str, document: Any) -> str:
    """Prefix a message with where it happened: `jobs[2] "fail": args`, `clusters.lab.backend`.
    Positions count from 1, as a person counts [[jobs]] blocks."""
    head, rest = "", loc
    if len(loc) >= 2 and loc[0] == "jobs" and isinstance(loc[1], int):
        head, rest = f"jobs[{loc[1] + 1}]", loc[2:]
        try:
            name = document["jobs"][loc[1]]["name"]
        except (KeyError, IndexError, TypeError):
            name = None
        if isinstance(name, str):
            head += f" {quoted(name)}"
    path = ""
    for part in rest:
        if isinstance(part, int):
            path += f"[{part + 1}]"
        else:
            path += ("." if path else "") + (part if _KEY.fullmatch(str(part)) else quoted(str(part)))
    return ": ".join(piece for piece in (head, path, message) if piece)


def _cluster_error(error: Any, loc: tuple[Any, ...], kinds: ClusterKinds) -> tuple[tuple[Any, ...], str]:
    """Where and what a mistake in a cluster table is, in the manifest's terms: the `backend` field
    that chooses the table's model is named, the model's own name (pydantic's tag) is not, and a
    key that belongs to another backend is said to be that."""
    if error["type"] == "union_tag_not_found":
        return (*loc, "backend"), "field required"
    if error["type"] == "union_tag_invalid":
        choices = ", ".join(f'"{kind.model_fields["backend"].default}"' for kind in kinds)
        tag = error["ctx"]["tag"]
        return (*loc, "backend"), f"expected one of {choices}, got {quoted(tag)}"
    tags = {kind.model_fields["backend"].default for kind in kinds}
    if len(loc) >= 3 and loc[2] in tags:
        tag, loc = loc[2], (*loc[:2], *loc[3:])
        known = {key for kind in kinds for key in kind.model_fields}
        if error["type"] == "extra_forbidden" and len(loc) == 3 and loc[2] in known:
            return loc, f"not used by a {tag} cluster"
    return loc, _describe(error)


def _resolve(document: _Document[Any], source: Path, kinds: ClusterKinds) -> Manifest:
    """The checks that span sections, then the manifest with defaults applied and clusters resolved."""
    clusters = {
        name: _cluster(name, section, source.parent) for name, section in document.clusters.items()
    } or {"local": _default_cluster(source.parent, kinds)}
    defaults = document.defaults
    if defaults.cluster is not None and defaults.cluster not in clusters:
        raise _Problem(("defaults", "cluster"), _unknown_cluster(defaults.cluster, clusters))
    seen: dict[str, int] = {}
    jobs = []
    for index, job in enumerate(document.jobs):
        if job.name in seen:
            raise _Problem(("jobs", index, "name"), f"duplicate of jobs[{seen[job.name] + 1}]")
        seen[job.name] = index
        jobs.append(_job(index, job, defaults, clusters, source.parent))
    if not jobs:
        raise _Problem(("jobs",), "at least one job is required")
    try:
        jobs, stages = expand_chains(jobs)
    except ChainError as error:
        raise _Problem(("jobs", error.index, error.field), error.message) from None
    return Manifest(path=source, session=document.session, clusters=clusters, jobs=tuple(jobs), stages=stages)


@functools.cache
def _clusters_adapter(kinds: ClusterKinds) -> TypeAdapter[dict[str, ClusterConfig]]:
    """Cluster tables that are each one of `kinds`, by their `backend` field."""
    table = Annotated[Union[kinds], Field(discriminator="backend")]  # type: ignore[valid-type]  # noqa: UP007
    return TypeAdapter(dict[str, table])


def read_clusters(
    source: str | os.PathLike[str], tables: Mapping[str, Any], kinds: ClusterKinds, folder: Path
) -> dict[str, ClusterConfig]:
    """[clusters.NAME] tables outside a manifest (the user's config file), checked as a manifest's
    are and resolved against `folder`; every problem is a ManifestError naming `source`."""
    try:
        sections = _clusters_adapter(kinds).validate_python(dict(tables))
        return {name: _cluster(name, section, folder) for name, section in sections.items()}
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        loc = ("clusters", *(first["loc"][:-1] if first["type"] == "invalid_key" else first["loc"]))
        loc, message = _cluster_error(first, loc, kinds) if len(loc) >= 2 else (loc, _describe(first))
        raise ManifestError(source, _located(loc, message, {"clusters": tables})) from None
    except _Problem as problem:
        raise ManifestError(source, _located(problem.loc, problem.message, {"clusters": tables})) from None


def _default_cluster(folder: Path, kinds: ClusterKinds) -> ClusterConfig:
    """A manifest without clusters runs its jobs as processes on this machine, in its folder."""
    (local,) = (kind for kind in kinds if kind.model_fields["backend"].default == "local")
    return local(backend="local", name="local", workdir=str(folder))


def _cluster(name: str, section: ClusterConfig, folder: Path) -> ClusterConfig:
    loc = ("clusters", name)
    try:
        check_name(name)
    except ValueError as error:
        raise _Problem(loc, f"bad cluster name: {error}") from None
    if "name" in section.model_fields_set:  # the table's key names it
        raise _Problem((*loc, "name"), "unknown key")
    if found := section.problem():
        raise _Problem((*loc, found[0]), found[1])
    workdir = section.workdir or str(folder)
    if section.remote and not posixpath.isabs(workdir):
        raise _Problem(
            (*loc, "workdir"), f"must be an absolute path on a remote cluster, got {quoted(workdir)}"
        )
    if not section.remote:
        workdir = posixpath.normpath(posixpath.join(str(folder), os.path.expanduser(workdir)))
    local_files = {
        key: os.path.join(folder, os.path.expanduser(value))
        for key in section.LOCAL_FILES
        if (value := getattr(section, key)) is not None
    }
    return section.model_copy(update={**local_files, "name": name, "workdir": workdir})


def _unknown_cluster(name: str, clusters: dict[str, ClusterConfig]) -> str:
    return f"unknown cluster {quoted(name)} (declared: {', '.join(quoted(known) for known in clusters)})"


_PLACEHOLDERS = {"args": ("task", "name", "session"), "outputs": ("task", "name", "session", "attempt")}


def _job(
    index: int, job: JobConfig, defaults: DefaultsConfig, clusters: dict[str, ClusterConfig], folder: Path
) -> JobConfig:
    """A job with [defaults] applied and its cluster filled in, once its paths and templates are checked."""
    explicit = set(job.model_fields_set)
    inherited = defaults.model_fields_set - job.model_fields_set
    job = job.model_copy(update={key: getattr(defaults, key) for key in inherited})

    def problem(field: tuple[Any, ...], message: str) -> _Problem:
        origin = " (set in [defaults])" if field[0] in inherited else ""
        return _Problem(("jobs", index, *field), message + origin)

    if job.cluster is None:
        if len(clusters) != 1:
            names = ", ".join(quoted(known) for known in clusters)
            raise problem(("cluster",), f"field required: the manifest declares several clusters ({names})")
        job = job.model_copy(update={"cluster": next(iter(clusters))})
    elif job.cluster not in clusters:
        raise problem(("cluster",), _unknown_cluster(job.cluster, clusters))
    cluster = clusters[job.cluster or ""]
    if wrong := sorted(explicit & cluster.UNUSED_JOB_FIELDS.keys()):
        raise problem((wrong[0],), cluster.UNUSED_JOB_FIELDS[wrong[0]])
    job = cluster.checked_job(job, folder, problem)
    paths: dict[tuple[Any, ...], str | None] = {("script",): job.script, ("log",): job.log, ("err",): job.err}
    paths.update({("outputs", k, "path"): output.path for k, output in enumerate(job.outputs)})
    for field, path in paths.items():
        if path is not None and path.startswith("~") and not cluster.paths_are_local:
            raise problem(field, '"~" is not expanded on a remote cluster: write an absolute path')
    templates: dict[tuple[Any, ...], str] = {("args", k): arg for k, arg in enumerate(job.args)}
    templates.update({("outputs", k): output.path for k, output in enumerate(job.outputs)})
    series = (job.repeat.var, f"{job.repeat.var}_count") if job.repeat else ()
    for field, template in templates.items():
        try:
            _check_template(template, (*_PLACEHOLDERS[field[0]], *series), has_array=job.array is not None)
        except ValueError as error:
            raise problem(field, str(error)) from None
    return job


def load_job_template(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A Kubernetes Job as YAML, for jobdeck to fill in (JSON-ready: it is stored with the jobs).
    ValueError says what is wrong with it."""
    try:
        document = _PARSERS[".yaml"](_read_text(Path(path)))
    except _Problem as problem:
        raise ValueError(f"{os.fspath(path)}: {problem.message}") from None
    if not isinstance(document, dict):
        raise ValueError(f"{os.fspath(path)}: expected a Job (a YAML mapping), got {_kind_of(document)}")
    if document.get("kind", "Job") != "Job":
        raise ValueError(f'{os.fspath(path)}: kind is {quoted(str(document["kind"]))}, expected "Job"')
    containers = dig(document, "spec", "template", "spec", "containers")
    if containers is not None and not (
        isinstance(containers, list) and all(isinstance(c, dict) for c in containers)
    ):
        raise ValueError(f"{os.fspath(path)}: spec.template.spec.containers must be a list of containers")
    plain: dict[str, Any] = json.loads(json.dumps(document, default=str))
    return plain


def dig(document: Any, *keys: str) -> Any:
    """document[k1][k2]... or None where a level is missing or not a table."""
    for key in keys:
        document = document.get(key) if isinstance(document, dict) else None
    return document


def _check_template(template: str, allowed: tuple[str, ...], has_array: bool) -> None:
    used = placeholders(template)
    if unknown := sorted(used - set(allowed)):
        if unknown[0] == "attempt":
            raise ValueError('"{attempt}" is only allowed in outputs')
        shown = ", ".join(f"{{{known}}}" for known in allowed)
        raise ValueError(f'unknown placeholder "{{{unknown[0]}}}" (allowed: {shown})')
    if "task" in used and not has_array:
        raise ValueError('"{task}" needs an array, and this job has none')
