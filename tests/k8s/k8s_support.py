"""Fixtures for the Kubernetes tests: the loopback API server (tests/k8s/fake_apiserver.py), a
kubeconfig written per test that points at it, a real session store, and a controller whose
Kubernetes cluster is reached through the official client over real HTTP."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fake_apiserver import FakeApiServer

from backends.kubernetes.backend import KubernetesBackend
from backends.kubernetes.connection import Settings
from monitor.controller import Controller, ControllerSettings
from monitor.model import Job, JobSpec, OutputCheck, RestartPolicy
from store.session_store import SessionStore

TOKEN = "s3cret-token"
NAMESPACE = "team"
SESSION = "s"
CLUSTER = "k8s"
COMMAND = ("printf", "%s\\n")


@pytest.fixture
def apiserver() -> Iterator[FakeApiServer]:
    """A running fake API server that wants the bearer token TOKEN."""
    server = FakeApiServer(token=TOKEN)
    server.start()
    yield server
    server.stop()


def write_kubeconfig(
    path: Path, contexts: dict[str, tuple[FakeApiServer, str]], current: str, token: str = TOKEN
) -> Path:
    """A kubeconfig with one context per entry (name: (server, namespace)), token auth."""
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": f"{name}-cluster", "cluster": {"server": s.url}} for name, (s, _) in contexts.items()
        ],
        "users": [{"name": "me", "user": {"token": token}}],
        "contexts": [
            {"name": name, "context": {"cluster": f"{name}-cluster", "user": "me", "namespace": namespace}}
            for name, (_, namespace) in contexts.items()
        ],
        "current-context": current,
    }
    path.write_text(yaml.safe_dump(document))
    return path


@pytest.fixture
def kubeconfig(tmp_path: Path, apiserver: FakeApiServer) -> Path:
    return write_kubeconfig(tmp_path / "kubeconfig", {"lab": (apiserver, NAMESPACE)}, "lab")


@pytest.fixture
def backend(kubeconfig: Path) -> Iterator[KubernetesBackend]:
    yield KubernetesBackend(CLUSTER, session=SESSION, settings=Settings(str(kubeconfig)), timeout=5.0,
                            connect_timeout=2.0)  # fmt: skip


@dataclass
class Engine:
    """A session in a real store, driven by a real controller over the Kubernetes backend."""

    store: SessionStore
    session_id: int
    controller: Controller
    backend: KubernetesBackend
    server: FakeApiServer
    folder: Path

    async def add(self, definitions: Sequence[tuple[str, int | None, JobSpec]]) -> None:
        await self.store.add_jobs(self.session_id, definitions, time.time())

    async def jobs(self) -> dict[str, Job]:
        """By label: "name" or "name[task]"."""
        return {label(j): j for j in await self.store.jobs(SESSION)}


def label(job: Job) -> str:
    return job.name if job.task is None else f"{job.name}[{job.task}]"


def k8s_spec(
    folder: Path,
    *args: str,
    array: str | None = None,
    outputs: Sequence[str] = (),
    restart: RestartPolicy | None = None,
    **extra: Any,
) -> JobSpec:
    """A Kubernetes job's spec as expand_manifest makes it (outputs checked on this machine)."""
    return JobSpec(
        CLUSTER,
        "",
        str(folder),
        args=args,
        array=array,
        outputs=tuple(OutputCheck(str(folder / o)) for o in outputs),
        restart=restart or RestartPolicy(),
        extra={"image": "busybox:1.36", "command": list(COMMAND), "backoff_limit": 0, **extra},
    )


@pytest.fixture
async def engine(
    tmp_path: Path, apiserver: FakeApiServer, backend: KubernetesBackend
) -> AsyncIterator[Engine]:
    store = await SessionStore.open(tmp_path / "jobdeck.db")
    session_id = await store.ensure_session(SESSION, None, {}, time.time())
    settings = ControllerSettings(validate_grace=0.0, lost_grace=60.0)
    controller = Controller(store, SESSION, {CLUSTER: backend}, settings)
    try:
        yield Engine(store, session_id, controller, backend, apiserver, tmp_path)
    finally:
        await backend.close()
        await store.close()


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that is its own CA (for the in-cluster HTTPS server), and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "ca.crt", folder / "server.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


@pytest.fixture
def tls_apiserver(tmp_path: Path) -> Iterator[tuple[FakeApiServer, Path]]:
    """An HTTPS API server (as in a pod: https://KUBERNETES_SERVICE_HOST) and its CA certificate."""
    folder = tmp_path / "tls"
    folder.mkdir()
    cert, key = self_signed(folder)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = FakeApiServer(token=TOKEN, tls=context)
    server.start()
    yield server, cert
    server.stop()
