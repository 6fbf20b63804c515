"""The manifest's Kubernetes keys and job fields: what loads, what each mistake is reported as (one
line naming the file and the field), and what expand_manifest stores with the jobs."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends.registry import load_manifest
from monitor.expand import expand_manifest
from monitor.manifest import ManifestError

HEAD = '[session]\nname = "s"\n[clusters.k8s]\nbackend = "kubernetes"\nworkdir = "/data"\n'
JOB = '[[jobs]]\nname = "train"\nimage = "busybox:1.36"\ncommand = ["python", "train.py"]\n'
TEMPLATE = """\
apiVersion: batch/v1
kind: Job
metadata:
  labels: {team: vision}
spec:
  template:
    spec:
      containers:
        - name: trainer
          image: registry/train:2
          command: [python, -m, train]
          resources: {limits: {nvidia.com/gpu: 1}}
"""


def load(folder: Path, text: str):
    path = folder / "m.toml"
    path.write_text(text)
    return load_manifest(path)


def error_of(folder: Path, text: str) -> str:
    with pytest.raises(ManifestError) as caught:
        load(folder, text)
    return str(caught.value).removeprefix(f"{folder / 'm.toml'}: ")


def test_cluster_keys_and_job_fields_load_and_expand(tmp_path: Path) -> None:
    (tmp_path / "job.yaml").write_text(TEMPLATE)
    text = (
        HEAD + 'namespace = "team-a"\ncontext = "lab"\nkubeconfig = "kube/config"\nttl_seconds_after_finished = 3600\n'
        'outputs_host = "login1"\nuser = "me"\nselector = "team=ml,tier!=test"\n'
        + JOB + 'args = ["--epochs", "{task}"]\narray = "0-1"\nbackoff_limit = 2\noutputs = ["out/{task}.pt"]\n'
        '[[jobs]]\nname = "templated"\njob_template = "job.yaml"\n'
    )  # fmt: skip
    manifest = load(tmp_path, text)
    cluster = manifest.clusters["k8s"]
    assert (cluster.namespace, cluster.context, cluster.kubeconfig) == (
        "team-a",
        "lab",
        f"{tmp_path}/kube/config",
    )
    assert (cluster.ttl_seconds_after_finished, cluster.outputs_host, cluster.user) == (3600, "login1", "me")
    assert cluster.selector == "team=ml,tier!=test"
    first, second, templated = expand_manifest(manifest)
    assert (first.task, first.spec.args, second.spec.args) == (0, ("--epochs", "0"), ("--epochs", "1"))
    assert first.spec.extra == {
        "image": "busybox:1.36",
        "command": ["python", "train.py"],
        "backoff_limit": 2,
    }
    assert first.spec.outputs[0].path == "/data/out/0.pt"
    stored = templated.spec.extra["job_template"]
    assert stored["spec"]["template"]["spec"]["containers"][0]["image"] == "registry/train:2"
    assert templated.spec.extra["backoff_limit"] == 0 and "image" not in templated.spec.extra


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (HEAD + '[[jobs]]\nname = "a"\ncommand = ["x"]\n',
         'jobs[1] "a": image: field required (or an image in the job_template\'s first container)'),
        (HEAD + '[[jobs]]\nname = "a"\nimage = "x"\n',
         'jobs[1] "a": command: field required (or a command in the job_template\'s first container)'),
        (HEAD + JOB + 'script = "run.sh"\n', 'jobs[1] "train": script: not used by a kubernetes cluster'),
        (HEAD + JOB + 'sbatch = ["--time=1"]\n', 'jobs[1] "train": sbatch: not used by a kubernetes cluster'),
        (HEAD + JOB + 'log = "x.log"\n', 'jobs[1] "train": log: not used by a kubernetes cluster'),
        (HEAD + JOB + "backoff_limit = -1\n", 'jobs[1] "train": backoff_limit: must be at least 0, got -1'),
        (HEAD + JOB + 'job_template = "missing.yaml"\n', 'jobs[1] "train": job_template: '),
        (HEAD + 'namespace = "Team_A"\n' + JOB, "clusters.k8s.namespace: not a Kubernetes namespace"),
        (HEAD + "ttl_seconds_after_finished = -5\n" + JOB, "clusters.k8s.ttl_seconds_after_finished: must be at least 0"),
        (HEAD + 'user = "me"\n' + JOB, 'clusters.k8s.user: needs "outputs_host" (the SSH host where outputs are checked)'),
        (HEAD + 'host = "login1"\n' + JOB, "clusters.k8s.host: not used by a kubernetes cluster"),
        (HEAD + "max_parallel = 2\n" + JOB, "clusters.k8s.max_parallel: not used by a kubernetes cluster"),
        (HEAD + 'selector = ""\n' + JOB, "clusters.k8s.selector: "),
        ('[session]\nname = "s"\n[clusters.c]\nbackend = "slurm"\nselector = "a=b"\n[[jobs]]\nname = "a"\nscript = "x"\n',
         "clusters.c.selector: not used by a slurm cluster"),
        ('[session]\nname = "s"\n[clusters.c]\nbackend = "local"\n[[jobs]]\nname = "a"\nscript = "x"\nimage = "b"\n',
         'jobs[1] "a": image: only used by a kubernetes cluster'),
    ],
)  # fmt: skip
def test_mistakes_are_one_line_naming_the_field(tmp_path: Path, text: str, message: str) -> None:
    assert error_of(tmp_path, text).startswith(message)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("kind: Pod\n", 'kind is "Pod", expected "Job"'),
        ("- a\n- b\n", "expected a Job (a YAML mapping), got list"),
        ("spec: {template: {spec: {containers: oops}}}\n", "spec.template.spec.containers must be a list"),
        ("spec: [\n", "invalid YAML"),
    ],
)
def test_a_bad_job_template_is_refused(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "job.yaml").write_text(content)
    found = error_of(tmp_path, HEAD + JOB + 'job_template = "job.yaml"\n')
    assert found.startswith(f'jobs[1] "train": job_template: {tmp_path}/job.yaml: ') and message in found


def test_defaults_meant_for_other_clusters_do_not_stop_a_kubernetes_job(tmp_path: Path) -> None:
    text = (
        '[session]\nname = "s"\n[clusters.hpc]\nbackend = "slurm"\n'
        '[clusters.k8s]\nbackend = "kubernetes"\nworkdir = "/data"\n'
        '[defaults]\nsbatch = ["--time=5"]\n'
        '[[jobs]]\nname = "a"\ncluster = "hpc"\nscript = "run.sh"\n'
        '[[jobs]]\nname = "b"\ncluster = "k8s"\nimage = "busybox"\ncommand = ["true"]\n'
    )
    assert [d.name for d in expand_manifest(load(tmp_path, text))] == ["a", "b"]
