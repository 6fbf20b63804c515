"""The one registration of backends: the cluster model of each, chosen by a manifest's `backend`
field. A new backend adds its model (backends/NAME/cluster.py) here; nothing else lists them."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from backends.kubernetes.cluster import KubernetesCluster
from backends.local.cluster import LocalCluster
from backends.slurm.cluster import SlurmCluster
from monitor.manifest import ClusterConfig, ClusterKinds, Manifest, read_clusters, read_manifest

CLUSTER_KINDS: ClusterKinds = (SlurmCluster, LocalCluster, KubernetesCluster)
_BY_BACKEND = {kind.model_fields["backend"].default: kind for kind in CLUSTER_KINDS}


def load_manifest(path: str | os.PathLike[str]) -> Manifest:
    """Read and check a manifest whose clusters are of the registered backends."""
    return read_manifest(path, CLUSTER_KINDS)


def stored_cluster(data: Mapping[str, Any]) -> ClusterConfig:
    """A cluster as a session stored it (Manifest.to_dict). Keys its model does not have are left
    out: sessions stored before each backend had a model of its own hold every backend's keys."""
    kind = _BY_BACKEND[data["backend"]]
    return kind.model_validate({key: value for key, value in data.items() if key in kind.model_fields})


def config_clusters(source: Path, tables: Mapping[str, Any]) -> dict[str, ClusterConfig]:
    """The [clusters.NAME] tables of the user's config file, checked as a manifest's are; a
    relative workdir or file is taken from the home folder."""
    return read_clusters(source, tables, CLUSTER_KINDS, Path.home())
