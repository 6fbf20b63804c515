"""Which clusters "My jobs" and `jobdeck queue` list: the config file's [clusters.NAME] tables,
else what this machine reaches without one (a SLURM whose squeue is on PATH, the kubeconfig's
current context)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from monitor.errors import InputError
from monitor.manifest import ClusterConfig
from tui.config import UserConfig

LOCAL_SLURM = "local"


def queue_clusters(config: UserConfig) -> dict[str, ClusterConfig]:
    """The configured clusters; with none configured, the local SLURM (squeue on PATH) as `local`
    and the kubeconfig's current context under its own name, with the context's namespace."""
    from backends.registry import config_clusters  # pydantic and the backends: only when listing

    source = config.path or Path("config.toml")
    if config.clusters:
        return config_clusters(source, config.clusters)
    tables: dict[str, dict[str, Any]] = {}
    if shutil.which("squeue"):
        tables[LOCAL_SLURM] = {"backend": "slurm"}
    context = _kube_context()
    if context is not None:
        name, table = context
        tables.setdefault(name, table)
    return config_clusters(source, tables)


def _kube_context() -> tuple[str, dict[str, Any]] | None:
    """(cluster name, table) of the current context of the kubeconfig kubectl would use, or None.
    A kubeconfig that cannot be read adds no cluster: it is the user's kubectl's, not jobdeck's."""
    paths = [p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    if not paths:
        paths = [str(Path.home() / ".kube" / "config")]
    import yaml

    for path in paths:
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        if not isinstance(data, dict) or not isinstance(data.get("current-context"), str):
            continue
        current = data["current-context"]
        contexts = {
            c.get("name"): c.get("context") or {}
            for c in data.get("contexts") or []
            if isinstance(c, dict) and isinstance(c.get("context") or {}, dict)
        }
        if current not in contexts:
            continue
        table: dict[str, Any] = {"backend": "kubernetes", "context": current, "kubeconfig": path}
        namespace = contexts[current].get("namespace")
        table["namespace"] = namespace if isinstance(namespace, str) else "default"
        return _cluster_name(current), table
    return None


def _cluster_name(context: str) -> str:
    """A context's name as a cluster name (kind-dev, user@cluster ...): the characters a cluster
    name takes, else `kubernetes`."""
    from monitor.manifest import check_name

    name = "".join(c if c.isalnum() or c in "-_." else "-" for c in context).strip("-.") or "kubernetes"
    try:
        check_name(name)
    except ValueError:
        return "kubernetes"
    return name


def chosen_clusters(config: UserConfig, names: Sequence[str] = ()) -> dict[str, ClusterConfig]:
    """The clusters `--cluster` names (every one when none is named), or one line saying what to
    configure or which names are known: what every command on the user's queue starts from."""
    clusters = queue_clusters(config)
    if not clusters:
        raise InputError(no_clusters_message(config))
    unknown = [name for name in names if name not in clusters]
    if unknown:
        raise InputError(f"--cluster: unknown cluster {unknown[0]!r} (known: {', '.join(clusters)})")
    return {name: clusters[name] for name in names} if names else clusters


def no_clusters_message(config: UserConfig) -> str:
    """What to do when there is nothing to list."""
    where = config.path or "~/.config/jobdeck/config.toml"
    return f"no cluster to list: no squeue on PATH, no kubeconfig, and no [clusters.NAME] in {where}"
