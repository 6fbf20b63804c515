"""Which clusters "My jobs" and `jobdeck queue` list: the config file's tables, else what this
machine reaches (squeue on PATH, the kubeconfig's current context); bad tables are one line naming
the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.errors import InputError
from tui.config import load_config
from tui.queue_clusters import no_clusters_message, queue_clusters


@pytest.fixture
def bare(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No squeue on PATH, no kubeconfig, no config file."""
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("JOBDECK_CONFIG", str(tmp_path / "config.toml"))
    (tmp_path / "bin").mkdir()
    return tmp_path


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_configured_clusters_are_checked_as_a_manifest_checks_them(bare: Path) -> None:
    write(bare / "config.toml", '[clusters.lab]\nbackend = "slurm"\nhost = "login.lab"\nport = 2222\n')
    clusters = queue_clusters(load_config())
    lab = clusters["lab"]
    assert list(clusters) == ["lab"] and lab.backend == "slurm" and lab.name == "lab"
    assert lab.ssh_host == "login.lab" and lab.port == 2222  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("table", "said"),
    [
        ('host = "x"\n', "clusters.lab.backend: field required"),
        (
            'backend = "pbs"\n',
            'clusters.lab.backend: expected one of "slurm", "local", "kubernetes", got "pbs"',
        ),
        ('backend = "slurm"\nnamespace = "ml"\n', "clusters.lab.namespace: not used by a slurm cluster"),
        ('backend = "slurm"\nhost = "two words"\n', "clusters.lab.host: not a host name"),
        (
            'backend = "kubernetes"\nnamespace = "Bad_NS"\n',
            "clusters.lab.namespace: not a Kubernetes namespace",
        ),
    ],
)
def test_a_bad_cluster_table_is_one_line_naming_the_file_and_field(bare: Path, table: str, said: str) -> None:
    config = write(bare / "config.toml", f"[clusters.lab]\n{table}")
    with pytest.raises(InputError) as caught:
        queue_clusters(load_config())
    message = str(caught.value)
    assert message.startswith(f"{config}: ") and said in message and "\n" not in message


def test_a_bad_queue_table_names_its_field(bare: Path) -> None:
    config = write(bare / "config.toml", "[queue]\nhistory = -1\n")
    with pytest.raises(InputError, match=f"^{config}: queue.history: "):
        load_config()


def test_without_config_the_local_slurm_is_listed_when_squeue_is_on_path(bare: Path) -> None:
    assert queue_clusters(load_config()) == {}
    assert "no squeue on PATH" in no_clusters_message(load_config())
    squeue = write(bare / "bin" / "squeue", "#!/bin/sh\n")
    squeue.chmod(0o755)
    clusters = queue_clusters(load_config())
    assert list(clusters) == ["local"] and clusters["local"].backend == "slurm"
    assert not clusters["local"].remote


KUBECONFIG = """
apiVersion: v1
kind: Config
current-context: {current}
contexts:
- name: dev@kind
  context: {{cluster: kind, user: dev, namespace: ml-team}}
- name: prod
  context: {{cluster: prod, user: me}}
clusters: []
users: []
"""


@pytest.mark.parametrize(
    ("current", "name", "namespace"), [("dev@kind", "dev-kind", "ml-team"), ("prod", "prod", "default")]
)
def test_the_kubeconfig_current_context_is_listed_with_its_namespace(
    bare: Path, monkeypatch: pytest.MonkeyPatch, current: str, name: str, namespace: str
) -> None:
    kubeconfig = write(bare / "kubeconfig", KUBECONFIG.format(current=current))
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    clusters = queue_clusters(load_config())
    assert list(clusters) == [name]
    cluster = clusters[name]
    assert cluster.backend == "kubernetes"
    assert (cluster.context, cluster.namespace) == (current, namespace)  # type: ignore[attr-defined]


@pytest.mark.parametrize("text", ["{not: [yaml", "just a string", "current-context: gone\ncontexts: []\n"])
def test_a_kubeconfig_that_names_no_usable_context_adds_no_cluster(
    bare: Path, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(write(bare / "kubeconfig", text)))
    assert queue_clusters(load_config()) == {}


def test_configured_clusters_replace_the_guesses(bare: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(bare / "bin" / "squeue", "").chmod(0o755)
    monkeypatch.setenv("KUBECONFIG", str(write(bare / "kubeconfig", KUBECONFIG.format(current="prod"))))
    write(bare / "config.toml", '[clusters.hpc]\nbackend = "slurm"\n')
    assert list(queue_clusters(load_config())) == ["hpc"]


def test_outputs_of_adopted_jobs_are_read_by_job_name(bare: Path) -> None:
    write(bare / "config.toml", '[adopted.train-7]\noutputs = ["model.pt", "out/{task}.txt"]\n')
    assert load_config().adopted_outputs == {"train-7": ("model.pt", "out/{task}.txt")}
    config = write(bare / "config.toml", "[adopted.train-7]\noutputs = []\n")
    with pytest.raises(InputError, match=f"^{config}: adopted.train-7.outputs: "):
        load_config()
