"""What jobdeck keeps and shows must hold no secret, its files must be its owner's alone, and it
must only talk to the SSH host it knows.

- After sessions that used a kubeconfig with a bearer token (the fake API server of tests/k8s) and
  an SSH private key (the loopback sshd), and after both were refused (a wrong token, a key the
  server does not know), neither the token nor the key's content is in the database (or its -wal)
  or in anything jobdeck printed.
- The database and its folder are created owner-only (0600/0700) even under umask 000.
- A changed or unknown host key is refused with its fingerprint shown and known_hosts untouched;
  an unknown key is accepted only with `accept_new_host_key = true`. A password is not a setting.
"""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import asyncssh
import pytest
from fault_daemons import CLUSTER_STATE, SSH_HOST
from fault_harness import TESTS, Deck, one_error_line, record, shown

sys.path.insert(0, str(TESTS / "k8s"))
import k8s_support as k8s
from fake_apiserver import FakeApiServer

WRONG_TOKEN = "wr0ng-t0ken-that-must-not-show"


def everything_kept(deck: Deck) -> bytes:
    """Every byte jobdeck wrote to its state folder: the database, its -wal, local job records."""
    return b"".join(p.read_bytes() for p in sorted(deck.db.parent.rglob("*")) if p.is_file())


def key_secret(path: Path) -> list[bytes]:
    """Pieces of the private key's body that would give it away (every base64 line of it)."""
    lines = path.read_bytes().splitlines()
    return [line for line in lines if line and not line.startswith(b"-----") and len(line) >= 20]


# -- no secret kept or shown ------------------------------------------------------------------------


def test_no_kubeconfig_token_in_the_store_or_any_output(deck: Deck, tmp_path: Path) -> None:
    server = FakeApiServer(token=k8s.TOKEN)
    server.start()
    try:
        good = k8s.write_kubeconfig(tmp_path / "kubeconfig", {"lab": (server, k8s.NAMESPACE)}, "lab")
        bad = k8s.write_kubeconfig(tmp_path / "bad", {"lab": (server, k8s.NAMESPACE)}, "lab", WRONG_TOKEN)
        job = {"name": "train", "image": "busybox:1.36", "command": ["true"], "cluster": "k8s"}
        outputs = []
        for name, kubeconfig in (("k", good), ("refused", bad)):
            cluster = {"k8s": {"backend": "kubernetes", "kubeconfig": str(kubeconfig)}}
            manifest = deck.manifest({"name": name, "validate_grace": 0}, cluster, [job])
            outputs.append(deck.run("submit", str(manifest), "--no-tui", "--json"))
        (pod,) = (p["metadata"]["name"] for p in server.pods.values())
        server.run(pod, k8s.NAMESPACE)
        server.succeed(pod, k8s.NAMESPACE)
        for words in (["sync", "--json"], ["list", "--json"], ["status", "k/train", "--json"], ["sync"]):
            outputs.append(deck.run(*words))
        outputs.append(deck.run("attach", "--all", "--no-tui", "--exit-when-done", "--json"))
    finally:
        server.stop()
    shown_text = "".join(r.stdout + r.stderr for r in outputs).encode()
    record("secrets: kubeconfig token", bad_inputs=1)
    assert outputs[0].returncode == 0 and outputs[1].returncode == 1, [shown(r) for r in outputs[:2]]
    assert b"401" in shown_text or b"Unauthorized" in shown_text, shown_text  # the refusal was shown...
    for secret in (k8s.TOKEN.encode(), WRONG_TOKEN.encode()):
        assert secret not in everything_kept(deck), f"{secret!r} is in the store"
        assert secret not in shown_text, f"{secret!r} was printed"  # ...without the token


@pytest.mark.cluster
@pytest.mark.ssh
def test_no_ssh_key_content_in_the_store_or_any_output(deck: Deck, ssh_config: Path, tmp_path: Path) -> None:
    deck.env["JOBDECK_SSH_CONFIG"] = str(ssh_config)
    identity = CLUSTER_STATE / "ssh" / "client_ed25519"
    stranger = tmp_path / "stranger"
    asyncssh.generate_private_key("ssh-ed25519").write_private_key(str(stranger))
    outputs = []
    for name, key in (("ssh", identity), ("denied", stranger)):
        cluster = {
            "far": {
                "backend": "slurm",
                "host": SSH_HOST,
                "identity_file": str(key),
                "workdir": str(deck.workdir),
            }
        }
        manifest = deck.manifest(
            {"name": name, "validate_grace": 0}, cluster, [{"name": "j", "script": "behave.sh"}]
        )
        outputs.append(deck.run("submit", str(manifest), "--no-tui", "--json", env={"SSH_AUTH_SOCK": ""}))
    deck.sync_until("ssh", None, 60, "the job over SSH")
    outputs.append(deck.run("sync", "--json"))
    outputs.append(deck.run("status", "ssh/j", "--json"))
    shown_text = "".join(r.stdout + r.stderr for r in outputs).encode()
    record("secrets: ssh private key", bad_inputs=1)
    assert outputs[0].returncode == 0 and outputs[1].returncode == 1, [shown(r) for r in outputs[:2]]
    assert b"authentication failed" in shown_text, shown_text
    for key in (identity, stranger):
        for piece in key_secret(key):
            assert piece not in everything_kept(deck), f"a line of {key} is in the store"
            assert piece not in shown_text, f"a line of {key} was printed"


def test_a_password_is_not_a_setting(deck: Deck) -> None:
    cluster = {"far": {"backend": "slurm", "host": SSH_HOST, "password": "hunter2", "workdir": "/w"}}
    manifest = deck.manifest({"name": "pw"}, cluster, [{"name": "j", "script": "behave.sh"}])
    result = deck.run("submit", str(manifest), "--no-tui")
    assert result.returncode == 2 and "clusters.far.password: unknown key" in one_error_line(result.stderr)
    assert "hunter2" not in result.stderr and not deck.db.exists()


# -- owner-only files -------------------------------------------------------------------------------


def test_database_and_folder_are_owner_only_even_under_umask_000(deck: Deck, tmp_path: Path) -> None:
    db = tmp_path / "a" / "b" / "jobdeck.db"
    manifest = deck.manifest(
        {"name": "perm"}, {"here": {"backend": "local"}}, [{"name": "j", "script": "behave.sh"}]
    )
    command = [
        sys.executable,
        "-c",
        "import os, sys; os.umask(0); from tui.entry import main; sys.exit(main())",
    ]
    result = subprocess.run([*command, "--db", str(db), "submit", str(manifest), "--no-tui"],
                            capture_output=True, text=True, timeout=60, cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, (result.stdout, result.stderr)
    modes = {
        p.name: stat.S_IMODE(p.stat().st_mode)
        for p in [db.parent, *db.parent.iterdir()]
        if p.name.startswith("jobdeck") or p == db.parent
    }
    assert modes.pop(db.parent.name) == 0o700, modes
    assert modes and set(modes.values()) == {0o600}, modes


# -- host keys --------------------------------------------------------------------------------------


def host_key() -> asyncssh.SSHKey:
    return asyncssh.read_public_key(str(CLUSTER_STATE / "ssh" / "host_ed25519.pub"))


def known_hosts_entry(ssh_config: Path) -> str:
    port = next(
        line.split()[1] for line in ssh_config.read_text().splitlines() if line.strip().startswith("Port")
    )
    return f"[127.0.0.1]:{port}"


@pytest.mark.cluster
@pytest.mark.ssh
@pytest.mark.parametrize("case", ["changed", "unknown", "unknown-accepted", "changed-accept-new"])
def test_host_keys_are_verified_and_refused_with_their_fingerprint(
    deck: Deck, ssh_config: Path, tmp_path: Path, case: str
) -> None:
    deck.env["JOBDECK_SSH_CONFIG"] = str(ssh_config)
    known_hosts = tmp_path / "known_hosts"
    impostor = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
    known_hosts.write_text(
        f"{known_hosts_entry(ssh_config)} {impostor}" if case.startswith("changed") else ""
    )
    before = known_hosts.read_text()
    cluster = {
        "backend": "slurm",
        "host": SSH_HOST,
        "known_hosts": str(known_hosts),
        "workdir": str(deck.workdir),
    }
    if case.endswith("accepted") or case.endswith("accept-new"):
        cluster["accept_new_host_key"] = True
    manifest = deck.manifest({"name": "hk"}, {"far": cluster}, [{"name": "j", "script": "behave.sh"}])
    result = deck.run("submit", str(manifest), "--no-tui", "--json")
    record("ssh host keys", bad_inputs=1)
    fingerprint = host_key().get_fingerprint("sha256")
    if case == "unknown-accepted":
        assert result.returncode == 0, shown(result)
        assert known_hosts.read_text().strip().endswith(host_key().export_public_key().decode().split()[1])
        return
    assert result.returncode == 1 and fingerprint in result.stdout, shown(result)
    assert known_hosts.read_text() == before
    assert deck.json("list")[0]["state"] == "PENDING"  # nothing was sent to an impostor
