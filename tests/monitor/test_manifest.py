from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backends.registry import load_manifest
from monitor.errors import InputError
from monitor.expand import expand_manifest
from monitor.manifest import MAX_BYTES, ManifestError

EXAMPLES = Path(__file__).parent / "manifests"
HEAD = '[session]\nname = "s"\n'
JOB = '[[jobs]]\nname = "a"\nscript = "x.sh"\n'


def write(folder: Path, name: str, text: str | bytes) -> Path:
    path = folder / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def error_of(path: Path) -> str:
    with pytest.raises(ManifestError) as caught:
        load_manifest(path)
    message = str(caught.value)
    assert "\n" not in message and "\r" not in message
    assert message.startswith(f"{path}: ")
    return message.removeprefix(f"{path}: ")


@pytest.mark.parametrize("name", ["demo.toml", "demo.yaml", "demo.json"])
def test_contract_manifest_loads_in_every_format(name: str) -> None:
    manifest = load_manifest(EXAMPLES / name)
    assert manifest.path == (EXAMPLES / name).resolve()
    assert manifest.folder == EXAMPLES.resolve()
    assert manifest.session.name == "demo-sweep"
    assert manifest.session.poll_interval == 5.0
    assert manifest.session.validate_grace == 30.0
    assert manifest.session.lost_grace == 600.0
    lab = manifest.clusters["lab"]
    assert (lab.name, lab.backend, lab.host, lab.workdir) == ("lab", "slurm", None, str(EXAMPLES.resolve()))
    assert [job.name for job in manifest.jobs] == ["ok", "fail", "sweep"]
    assert {job.cluster for job in manifest.jobs} == {"lab"}
    sweep = manifest.jobs[2]
    assert (sweep.array, sweep.args, sweep.log) == ("0-4", ["--task", "{task}"], "logs/%x-%A_%a.out")
    assert [output.path for output in sweep.outputs] == ["out/{task}.txt"]


def test_formats_agree_and_to_dict_is_json() -> None:
    dicts = [load_manifest(EXAMPLES / name).to_dict() for name in ("demo.toml", "demo.yaml", "demo.json")]
    for data in dicts:
        data.pop("path")
    assert dicts[0] == dicts[1] == dicts[2]
    assert json.loads(json.dumps(dicts[0])) == dicts[0]
    assert dicts[0]["jobs"][1]["args"] == ["--code", "3"]


def test_defaults_apply_only_where_a_job_is_silent(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "m.toml",
        HEAD
        + '[clusters.a]\nbackend = "slurm"\n[clusters.b]\nbackend = "local"\nmax_parallel = 2\n'
        + '[defaults]\ncluster = "a"\nscript = "run.sh"\nsbatch = ["--time=5"]\nargs = ["--x"]\n'
        + 'restart = {on = ["TIMEOUT"], max_attempts = 3}\n'
        + '[[jobs]]\nname = "inherits"\n'
        + '[[jobs]]\nname = "overrides"\ncluster = "b"\nargs = []\nrestart = {max_attempts = 2}\n',
    )
    inherits, overrides = load_manifest(path).jobs
    assert (inherits.cluster, inherits.script, inherits.sbatch, inherits.args) == (
        "a",
        "run.sh",
        ["--time=5"],
        ["--x"],
    )
    assert (inherits.restart.on, inherits.restart.max_attempts) == (["TIMEOUT"], 3)
    assert (overrides.cluster, overrides.script, overrides.args) == ("b", "run.sh", [])
    assert (overrides.restart.on, overrides.restart.max_attempts) == ([], 2)


def test_implicit_local_cluster(tmp_path: Path) -> None:
    manifest = load_manifest(write(tmp_path, "m.toml", HEAD + JOB))
    assert list(manifest.clusters) == ["local"]
    local = manifest.clusters["local"]
    assert (local.backend, local.workdir, local.max_parallel) == ("local", str(tmp_path.resolve()), 4)
    assert manifest.jobs[0].cluster == "local"


def test_sbatch_table_and_restart_reasons(tmp_path: Path) -> None:
    text = (
        HEAD
        + JOB
        + 'sbatch = {time = 1, mem = "1G", exclusive = true, requeue = false}\n'
        + 'restart = {on = ["timeout", "exit:3", "oomkilled"], backoff = 2.5, requeue = true}\n'
    )
    job = load_manifest(write(tmp_path, "m.toml", text)).jobs[0]
    assert job.sbatch == ["--time=1", "--mem=1G", "--exclusive"]
    assert (job.restart.on, job.restart.backoff, job.restart.requeue) == (
        ["TIMEOUT", "exit:3", "OOMKilled"],
        2.5,
        True,
    )


def test_yaml_reads_on_and_times_as_written(tmp_path: Path) -> None:
    text = (
        "session: {name: s}\njobs:\n  - name: a\n    script: x.sh\n"
        "    sbatch: {time: 1:30:00, exclusive: true}\n    restart: {on: [TIMEOUT], max_attempts: 010}\n"
    )
    job = load_manifest(write(tmp_path, "m.yml", text)).jobs[0]
    assert job.sbatch == ["--time=1:30:00", "--exclusive"]
    assert (job.restart.on, job.restart.max_attempts) == (["TIMEOUT"], 10)


@pytest.mark.parametrize(
    "name", ["a b", 'it\'s "quoted"', "x; rm -rf ~", "$(touch pwned)", "`id`", "ünï — 名前", "a" * 200]
)
def test_names_are_taken_literally(tmp_path: Path, name: str) -> None:
    document = {"session": {"name": name}, "jobs": [{"name": name, "script": "x.sh", "args": ["{name}"]}]}
    manifest = load_manifest(write(tmp_path, "m.json", json.dumps(document)))
    assert manifest.session.name == manifest.jobs[0].name == name


def test_cluster_paths(tmp_path: Path) -> None:
    text = (
        HEAD
        + '[clusters.here]\nbackend = "local"\nworkdir = "~/runs"\n'
        + '[clusters.rel]\nbackend = "slurm"\nworkdir = "sub/./dir"\n'
        + '[clusters.ssh]\nbackend = "slurm"\nhost = "login1"\nport = 2222\nuser = "me"\n'
        + 'identity_file = "keys/id"\nknown_hosts = "~/kh"\naccept_new_host_key = true\n'
        + 'workdir = "/scratch/me"\n'
        + '[clusters.k8s]\nbackend = "kubernetes"\nnamespace = "ns"\ncontext = "c"\n'
        + 'kubeconfig = "kube.yaml"\n'
        + '[[jobs]]\nname = "a"\nscript = "x.sh"\ncluster = "ssh"\n'
        + '[[jobs]]\nname = "b"\ncluster = "k8s"\nimage = "busybox"\ncommand = ["true"]\n'
    )
    clusters = load_manifest(write(tmp_path, "m.toml", text)).clusters
    folder = tmp_path.resolve()
    assert clusters["here"].workdir == os.path.expanduser("~/runs")
    assert clusters["rel"].workdir == f"{folder}/sub/dir"
    ssh = clusters["ssh"]
    assert (ssh.host, ssh.port, ssh.user, ssh.workdir) == ("login1", 2222, "me", "/scratch/me")
    assert (ssh.identity_file, ssh.known_hosts) == (f"{folder}/keys/id", os.path.expanduser("~/kh"))
    assert ssh.accept_new_host_key and not ssh.paths_are_local
    k8s = clusters["k8s"]
    assert (k8s.namespace, k8s.context, k8s.kubeconfig) == ("ns", "c", f"{folder}/kube.yaml")
    assert not k8s.paths_are_local and clusters["here"].paths_are_local


# (file name, content, the message after "<file>: ")
ERRORS = [
    (
        "m.toml",
        HEAD + JOB + '[[jobs]]\nname = "fail"\nscript = "x"\nargs = 3\n',
        'jobs[2] "fail": args: expected a list of strings, got int',
    ),
    (
        "m.toml",
        HEAD + JOB + '[[jobs]]\nname = "fail"\nscript = "x"\nargs = ["--code", 3]\n',
        'jobs[2] "fail": args: expected a list of strings, got int (item 2)',
    ),
    ("m.toml", "[session]\n" + JOB, "session.name: field required"),
    ("m.toml", JOB, "session: field required"),
    ("m.toml", HEAD, "jobs: field required"),
    ("m.json", '{"session": {"name": "s"}, "jobs": []}', "jobs: at least one job is required"),
    ("m.json", '{"session": {"name": "s"}, "jobs": 3}', "jobs: expected a list of tables, got int"),
    (
        "m.json",
        '{"session": {"name": "s"}, "jobs": {"name": "a"}}',
        "jobs: expected a list of tables, got table",
    ),
    ("m.toml", '[[jobs]]\nscript = "x"\n' + HEAD, "jobs[1]: name: field required"),
    (
        "m.toml",
        HEAD + '[clusters.lab]\nbackend = "pbs"\n' + JOB,
        'clusters.lab.backend: expected one of "slurm", "local", "kubernetes", got "pbs"',
    ),
    ("m.toml", HEAD + '[clusters.lab]\nhost = "h"\n' + JOB, "clusters.lab.backend: field required"),
    ("m.toml", HEAD + JOB + 'scirpt = "y"\n', 'jobs[1] "a": scirpt: unknown key'),
    ("m.toml", "extra = 1\n" + HEAD + JOB, "extra: unknown key"),
    ("m.toml", HEAD + 'colour = "red"\n' + JOB, "session.colour: unknown key"),
    ("m.toml", HEAD + '[defaults]\nname = "x"\n' + JOB, "defaults.name: unknown key"),
    ("m.toml", HEAD + JOB + JOB, 'jobs[2] "a": name: duplicate of jobs[1]'),
    ("m.toml", HEAD + JOB + 'array = "5-2"\n', 'jobs[1] "a": array: array range "5-2" is reversed'),
    ("m.toml", HEAD + JOB + 'array = "0-4:0"\n', 'jobs[1] "a": array: array range "0-4:0" has step 0'),
    ("m.toml", HEAD + JOB + 'array = ""\n', 'jobs[1] "a": array: empty array expression'),
    (
        "m.toml",
        HEAD + JOB + 'array = "x"\n',
        'jobs[1] "a": array: bad array range "x": expected N, N-M or N-M:S with non-negative integers',
    ),
    (
        "m.toml",
        HEAD + JOB + 'array = "0-1000000"\n',
        'jobs[1] "a": array: array range "0-1000000" has more than 1,000,000 indices',
    ),
    (
        "m.toml",
        HEAD + JOB + "array = 5\n",
        'jobs[1] "a": array: expected a string such as "0-9" or "1,3,5-7", got int',
    ),
    (
        "m.toml",
        HEAD + JOB + 'args = ["{foo}"]\n',
        'jobs[1] "a": args[1]: unknown placeholder "{foo}" (allowed: {task}, {name}, {session})',
    ),
    (
        "m.toml",
        HEAD + JOB + 'outputs = ["o/{when}"]\n',
        'jobs[1] "a": outputs[1]: unknown placeholder "{when}" '
        "(allowed: {task}, {name}, {session}, {attempt})",
    ),
    (
        "m.toml",
        HEAD + JOB + 'args = ["{attempt}"]\n',
        'jobs[1] "a": args[1]: "{attempt}" is only allowed in outputs',
    ),
    (
        "m.toml",
        HEAD + JOB + 'args = ["--x", "{"]\n',
        'jobs[1] "a": args[2]: unclosed "{" (write "{{" for a literal brace)',
    ),
    (
        "m.toml",
        HEAD + JOB + 'args = ["--task", "{task}"]\n',
        'jobs[1] "a": args[2]: "{task}" needs an array, and this job has none',
    ),
    (
        "m.toml",
        HEAD + JOB + 'outputs = [{path = "out/{task}"}]\n',
        'jobs[1] "a": outputs[1]: "{task}" needs an array, and this job has none',
    ),
    (
        "m.toml",
        HEAD + '[defaults]\noutputs = ["o/{task}"]\n' + JOB,
        'jobs[1] "a": outputs[1]: "{task}" needs an array, and this job has none (set in [defaults])',
    ),
    ("m.toml", HEAD + JOB + "log = 3\n", 'jobs[1] "a": log: expected a string, got int'),
    ("m.toml", HEAD + '[[jobs]]\nname = "a"\n', 'jobs[1] "a": script: field required'),
    (
        "m.toml",
        HEAD + '[clusters.lab]\nbackend = "slurm"\n' + JOB + 'cluster = "other"\n',
        'jobs[1] "a": cluster: unknown cluster "other" (declared: "lab")',
    ),
    (
        "m.toml",
        HEAD + '[defaults]\ncluster = "gone"\n' + JOB,
        'defaults.cluster: unknown cluster "gone" (declared: "local")',
    ),
    (
        "m.toml",
        HEAD + '[clusters.x]\nbackend = "slurm"\n[clusters.y]\nbackend = "local"\n' + JOB,
        'jobs[1] "a": cluster: field required: the manifest declares several clusters ("x", "y")',
    ),
    (
        "m.toml",
        HEAD + '[clusters.lab]\nbackend = "slurm"\nhost = "login1"\nworkdir = "runs"\n' + JOB,
        'clusters.lab.workdir: must be an absolute path on a remote cluster, got "runs"',
    ),
    (
        "m.toml",
        HEAD + '[clusters.lab]\nbackend = "slurm"\nhost = "login1"\nworkdir = "~/runs"\n' + JOB,
        'clusters.lab.workdir: must be an absolute path on a remote cluster, got "~/runs"',
    ),
    (
        "m.toml",
        HEAD + '[clusters.lab]\nbackend = "slurm"\nhost = "h"\nworkdir = "/w"\n[[jobs]]\nname = "a"\n'
        'script = "~/x.sh"\n',
        'jobs[1] "a": script: "~" is not expanded on a remote cluster: write an absolute path',
    ),
    (
        "m.toml",
        HEAD + '[clusters.lab]\nbackend = "local"\nhost = "h"\n' + JOB,
        "clusters.lab.host: not used by a local cluster",
    ),
    (
        "m.toml",
        HEAD + '[clusters.lab]\nbackend = "slurm"\nnamespace = "n"\n' + JOB,
        "clusters.lab.namespace: not used by a slurm cluster",
    ),
    (
        "m.toml",
        HEAD + '[clusters.lab]\nbackend = "slurm"\nuser = "me"\n' + JOB,
        'clusters.lab.user: needs "host" (the SSH host the cluster is reached through)',
    ),
    (
        "m.toml",
        HEAD + '[clusters.lab]\nbackend = "slurm"\nhost = "h"\nport = 70000\nworkdir = "/w"\n' + JOB,
        "clusters.lab.port: must be at most 65535, got 70000",
    ),
    (
        "m.toml",
        HEAD + '[clusters.lab]\nbackend = "local"\nmax_parallel = 0\n' + JOB,
        "clusters.lab.max_parallel: must be greater than 0, got 0",
    ),
    (
        "m.toml",
        HEAD + '[clusters."a/b"]\nbackend = "local"\n' + JOB,
        'clusters."a/b": bad cluster name: contains "/", which delimits job references like session/name[3]',
    ),
    (
        "m.toml",
        '[session]\nname = "s"\npoll_interval = 0\n' + JOB,
        "session.poll_interval: must be greater than 0, got 0",
    ),
    (
        "m.toml",
        '[session]\nname = "s"\npoll_interval = nan\n' + JOB,
        "session.poll_interval: must be a finite number, got nan",
    ),
    (
        "m.toml",
        '[session]\nname = "s"\nvalidate_grace = -1\n' + JOB,
        "session.validate_grace: must be at least 0, got -1",
    ),
    (
        "m.toml",
        '[session]\nname = "s"\nlost_grace = "1h"\n' + JOB,
        "session.lost_grace: expected a number, got string",
    ),
    ("m.toml", '[session]\nname = ""\n' + JOB, "session.name: must not be empty"),
    (
        "m.toml",
        '[session]\nname = "a/b"\n' + JOB,
        'session.name: contains "/", which delimits job references like session/name[3]',
    ),
    (
        "m.toml",
        HEAD + '[[jobs]]\nname = "x[1]"\nscript = "x"\n',
        'jobs[1] "x[1]": name: contains "[", which delimits job references like session/name[3]',
    ),
    (
        "m.toml",
        HEAD + '[[jobs]]\nname = "a\\nb"\nscript = "x"\n',
        'jobs[1] "a\\nb": name: contains the control character U+000A',
    ),
    (
        "m.toml",
        HEAD + '[[jobs]]\nname = "a\\tb"\nscript = "x"\n',
        'jobs[1] "a\\tb": name: contains the control character U+0009',
    ),
    (
        "m.json",
        '{"session": {"name": "a\\u2028b"}, "jobs": [{"name": "a", "script": "x"}]}',
        "session.name: contains the control character U+2028",
    ),
    (
        "m.toml",
        HEAD + '[[jobs]]\nname = " a"\nscript = "x"\n',
        'jobs[1] " a": name: has leading or trailing whitespace',
    ),
    (
        "m.toml",
        HEAD + f'[[jobs]]\nname = "{"n" * 201}"\nscript = "x"\n',
        f'jobs[1] "{"n" * 80}…": name: longer than 200 characters',
    ),
    (
        "m.toml",
        HEAD + JOB + 'sbatch = ["time=1"]\n',
        'jobs[1] "a": sbatch: "time=1" is not an option (options start with "-")',
    ),
    (
        "m.toml",
        HEAD + JOB + 'sbatch = ["-J", "x"]\n',
        'jobs[1] "a": sbatch: "-J" conflicts with the job\'s name',
    ),
    (
        "m.toml",
        HEAD + JOB + 'sbatch = {output = "o.txt"}\n',
        'jobs[1] "a": sbatch: "--output=o.txt" conflicts with the "log" field',
    ),
    (
        "m.toml",
        HEAD + JOB + "sbatch = {time = 1.5}\n",
        'jobs[1] "a": sbatch: time: expected a string, an integer or a bool, got float',
    ),
    (
        "m.toml",
        HEAD + JOB + 'sbatch = {"--time" = 1}\n',
        'jobs[1] "a": sbatch: bad option name "--time" (write long names without dashes)',
    ),
    (
        "m.toml",
        HEAD + JOB + "sbatch = 5\n",
        'jobs[1] "a": sbatch: expected a list of option strings or a table, got int',
    ),
    (
        "m.toml",
        HEAD + JOB + "outputs = [3]\n",
        'jobs[1] "a": outputs: expected a list of paths or tables, got int (item 1)',
    ),
    (
        "m.toml",
        HEAD + JOB + 'outputs = [{path = "p", min_size = -1}]\n',
        'jobs[1] "a": outputs[1].min_size: must be at least 0, got -1',
    ),
    (
        "m.toml",
        HEAD + JOB + 'outputs = [{path = "p", sha256 = "abc"}]\n',
        'jobs[1] "a": outputs[1].sha256: expected 64 hexadecimal digits, got "abc"',
    ),
    (
        "m.toml",
        HEAD + JOB + "outputs = [{non_empty = true}]\n",
        'jobs[1] "a": outputs[1].path: field required',
    ),
    ("m.toml", HEAD + JOB + 'outputs = [""]\n', 'jobs[1] "a": outputs[1].path: must not be empty'),
    (
        "m.toml",
        HEAD + JOB + 'restart = {on = ["TIMOUT"]}\n',
        'jobs[1] "a": restart.on: unknown reason "TIMOUT" (expected exit:N or one of TIMEOUT, OUT_OF_MEMORY, '
        "NODE_FAIL, BOOT_FAIL, DEADLINE, PREEMPTED, SPECIAL_EXIT, OOMKilled, Evicted, BackoffLimitExceeded, "
        "DeadlineExceeded)",
    ),
    (
        "m.toml",
        HEAD + JOB + "restart = {max_attempts = 0}\n",
        'jobs[1] "a": restart.max_attempts: must be at least 1, got 0',
    ),
    (
        "m.toml",
        HEAD + JOB + 'restart = {requeue = "yes"}\n',
        'jobs[1] "a": restart.requeue: expected true or false, got string',
    ),
    ("m.toml", HEAD + JOB + 'restart = ["TIMEOUT"]\n', 'jobs[1] "a": restart: expected a table, got list'),
    ("m.toml", HEAD + "[[jobs]]\nname = 7\n", "jobs[1]: name: expected a string, got int"),
    ("m.toml", HEAD + "[[jobs]]\nname = \n", "line 4, column 8: invalid TOML: invalid value"),
    ("m.toml", HEAD + '[[jobs]]\nname = "a', "line 4, column 10: invalid TOML: unterminated string"),
    ("m.toml", "a = 1\na = 2\n", "line 2, column 6: invalid TOML: cannot overwrite a value"),
    (
        "m.yaml",
        "session: {name: s}\njobs: [\n",
        "line 3, column 1: invalid YAML: while parsing a flow node, "
        "expected the node content, but found '<stream end>'",
    ),
    ("m.yaml", "a: b: c\n", "line 1, column 5: invalid YAML: mapping values are not allowed here"),
    (
        "m.yaml",
        "a: !!python/object:os.system x\n",
        "line 1, column 4: invalid YAML: could not determine a constructor for the tag "
        "'tag:yaml.org,2002:python/object:os.system'",
    ),
    (
        "m.yaml",
        "a: 1\n---\nb: 2\n",
        "line 2, column 1: invalid YAML: "
        "expected a single document in the stream, but found another document",
    ),
    ("m.yaml", "session: {name: 2024-01-01}\n", "session.name: expected a string, got date"),
    ("m.yaml", "1: x\nsession: {name: s}\njobs: [{name: a, script: x}]\n", "keys must be strings, got int"),
    (
        "m.json",
        '{"session": {"name": "s"},}',
        "line 1, column 27: invalid JSON: expecting property name enclosed in double quotes",
    ),
    ("m.json", "[" * 100_000, "invalid JSON: nested too deeply"),
    (
        "m.json",
        '{"session": {"name": "s\\ud800"}}',
        "contains a lone surrogate escape (such as \\ud800), which is not valid Unicode",
    ),
    ("m.yaml", "- session\n", "the top-level document must be a table, got list"),
    ("m.yaml", "", "the top-level document must be a table, got null"),
    ("m.json", '"text"', "the top-level document must be a table, got string"),
    ("m.toml", b'[session]\nname = "\xff"\n', "not valid UTF-8 (byte 0xff at offset 18)"),
    ("m.ini", "[session]\n", 'unsupported extension ".ini" (expected .toml, .yaml, .yml or .json)'),
    ("manifest", "", "no file extension (expected .toml, .yaml, .yml or .json)"),
]


@pytest.mark.parametrize(("name", "text", "message"), ERRORS)
def test_errors_are_one_line_naming_file_and_field(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    assert error_of(write(tmp_path, name, text)) == message


def test_manifest_error_is_an_input_error() -> None:
    assert issubclass(ManifestError, InputError)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    assert error_of(tmp_path / "absent.toml") == "no such file"
    (tmp_path / "dir.yaml").mkdir()
    assert error_of(tmp_path / "dir.yaml") == "is a directory"


def test_huge_file(tmp_path: Path) -> None:
    path = tmp_path / "m.toml"
    with path.open("wb") as handle:
        handle.truncate(MAX_BYTES + 1)
    assert error_of(path) == "larger than 10 MB"


def test_file_name_with_a_newline_stays_on_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, "bad\nname.toml", "[session]\n")
    with pytest.raises(ManifestError) as caught:
        load_manifest(path)
    assert "\n" not in str(caught.value) and "bad\\u000aname.toml" in str(caught.value)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=300), suffix=st.sampled_from([".toml", ".yaml", ".yml", ".json"]))
def test_random_bytes_raise_only_manifest_errors(tmp_path: Path, data: bytes, suffix: str) -> None:
    path = write(tmp_path, "fuzz" + suffix, data)
    try:
        load_manifest(path)
    except ManifestError as error:
        assert "\n" not in str(error)


_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(["0-4", "{task}", "{attempt}", "~/x", "/abs", "--time=1", "slurm", "lab", "TIMEOUT"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, inner in value.items():
            found += _paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found += _paths(inner, (*prefix, index))
    return found


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), suffix=st.sampled_from([".json", ".yaml"]))
def test_any_change_to_a_good_manifest_loads_or_fails_in_one_line(
    tmp_path: Path, data: st.DataObject, suffix: str
) -> None:
    document = json.loads((EXAMPLES / "demo.json").read_text())
    where = data.draw(st.sampled_from(_paths(document)[1:]))
    key = data.draw(st.sampled_from([where[-1], data.draw(st.text(max_size=8))]))
    target = document
    for part in where[:-1]:
        target = target[part]
    if isinstance(target, dict):
        target.pop(where[-1])
        target[key] = data.draw(_VALUES)
    else:
        target[where[-1]] = data.draw(_VALUES)
    text = json.dumps(document) if suffix == ".json" else yaml.safe_dump(document)
    path = write(tmp_path, "m" + suffix, text)
    try:
        manifest = load_manifest(path)
    except ManifestError as error:
        assert "\n" not in str(error) and str(error).startswith(f"{path}: ")
    else:
        json.dumps(manifest.to_dict())
        assert len(expand_manifest(manifest)) >= len(manifest.jobs)
