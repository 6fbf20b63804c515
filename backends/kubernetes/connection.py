"""How jobdeck reaches a Kubernetes API server: a kubeconfig and a context, or, inside a pod, the
service account Kubernetes mounts there. Loading reads files (and may run a credential plugin), so it
runs in the backend's own threads like every other call."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from kubernetes.client import ApiClient, Configuration
from kubernetes.config.config_exception import ConfigException
from kubernetes.config.incluster_config import InClusterConfigLoader
from kubernetes.config.kube_config import list_kube_config_contexts, load_kube_config
from urllib3.util.retry import Retry

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
RETRIES = Retry(total=1, backoff_factor=0)
"""One retry, for a pooled connection the server closed; a create (POST) is never retried after
it was sent. So a call gives up within twice its (connect, read) timeouts."""


@dataclass(frozen=True, slots=True)
class ServiceAccount:
    """Where a pod finds its service account: token, CA certificate and namespace."""

    folder: Path = SERVICE_ACCOUNT

    @property
    def token(self) -> Path:
        return self.folder / "token"

    @property
    def ca_cert(self) -> Path:
        return self.folder / "ca.crt"

    @property
    def namespace(self) -> Path:
        return self.folder / "namespace"


@dataclass(frozen=True, slots=True)
class Settings:
    """A cluster's `kubeconfig`, `context` and `namespace` keys as written (None: not set)."""

    kubeconfig: str | None = None
    context: str | None = None
    namespace: str | None = None


@dataclass(frozen=True, slots=True)
class Connection:
    api: ApiClient
    namespace: str
    description: str  # for messages: "context lab (https://10.0.0.1:6443)"


def in_cluster(environ: Mapping[str, str], account: ServiceAccount) -> bool:
    """Running inside a pod: the service host is set and the service-account token is mounted."""
    return bool(environ.get("KUBERNETES_SERVICE_HOST")) and account.token.is_file()


def connect(settings: Settings, account: ServiceAccount, environ: Mapping[str, str]) -> Connection:
    """A client for the cluster. A kubeconfig or context named in the manifest is used as written;
    otherwise the in-cluster service account when running in a pod, else the default kubeconfig
    ($KUBECONFIG, then ~/.kube/config). The namespace: the manifest's, else the context's (or the
    service account's), else "default". Raises ConfigException or OSError naming what is wrong."""
    configuration = Configuration()
    configuration.retries = RETRIES
    if settings.kubeconfig is None and settings.context is None and in_cluster(environ, account):
        InClusterConfigLoader(str(account.token), str(account.ca_cert), environ=environ).load_and_set(
            configuration
        )
        namespace = settings.namespace or _read(account.namespace) or "default"
        return Connection(
            ApiClient(configuration), namespace, f"{configuration.host} (in-cluster service account)"
        )
    path = settings.kubeconfig or environ.get("KUBECONFIG") or "~/.kube/config"
    contexts, current = list_kube_config_contexts(path)
    wanted = settings.context or (current or {}).get("name")
    chosen = next((c for c in contexts if c["name"] == wanted), None)
    if chosen is None:
        known = ", ".join(c["name"] for c in contexts) or "none"
        what = f"no context named {wanted!r}" if wanted else "no current-context"
        raise ConfigException(f"{path}: {what} (contexts: {known})")
    load_kube_config(
        config_file=path, context=wanted, client_configuration=configuration, persist_config=False
    )
    namespace = settings.namespace or chosen.get("context", {}).get("namespace") or "default"
    return Connection(ApiClient(configuration), namespace, f"context {wanted} ({configuration.host})")


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip() or None
    except FileNotFoundError:
        return None
