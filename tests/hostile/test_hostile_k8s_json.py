"""The Kubernetes backend reading answers it cannot trust: real lists of Jobs and pods (made by the
fake API server of tests/k8s from Jobs the backend created, in every state the tests drive them to),
served cut short, mutated at random places, or replaced by random JSON, over real HTTP to the
official client. poll, find and cancel either read them or raise BackendUnavailable (so no job
changes state because of them): never any other exception."""

from __future__ import annotations

import asyncio
import copy
import json
import math
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fault_harness import TESTS, record
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backends.kubernetes.backend import KubernetesBackend
from backends.kubernetes.connection import Settings
from backends.kubernetes.states import map_kubernetes
from monitor.errors import BackendUnavailable, SchedulerRejected
from monitor.model import Observation, PollReport, SubmitRequest, TaskSpec

sys.path.insert(0, str(TESTS / "k8s"))
import k8s_support as k8s
from fake_apiserver import FakeApiServer

NAMESPACE, SESSION, TOKEN = k8s.NAMESPACE, k8s.SESSION, k8s.TOKEN
EXTRA = {"image": "busybox:1.36", "command": ["printf", "%s\\n"], "backoff_limit": 0}
Json = dict[str, Any]
Mangle = Callable[[str, Json], Json | bytes]


class MangledApiServer(FakeApiServer):
    """The fake API server, whose lists of Jobs and pods go through `mangle` on their way out."""

    mangle: Mangle | None = None

    def _route(
        self, method: str, path: str, query: dict[str, list[str]], body: bytes
    ) -> tuple[int, str, bytes]:
        code, kind, answer = super()._route(method, path, query, body)
        which = path.rsplit("/", 1)[-1]
        if self.mangle is None or method != "GET" or which not in ("jobs", "pods") or code != 200:
            return code, kind, answer
        mangled = self.mangle(which, json.loads(answer))
        return code, kind, mangled if isinstance(mangled, bytes) else json.dumps(mangled).encode()


@dataclass
class Corpus:
    server: MangledApiServer
    kubeconfig: Path
    ids: list[str]  # every task ID the backend created
    names: list[str]
    tags: list[str]
    answers: list[tuple[Json, Json]]  # (jobs list, pods list) at each step

    def backend(self) -> KubernetesBackend:
        return KubernetesBackend("k8s", session=SESSION, settings=Settings(str(self.kubeconfig)), timeout=5.0,
                                 connect_timeout=2.0)  # fmt: skip


def request(name: str, tag: str, tasks: list[int | None]) -> SubmitRequest:
    specs = tuple(TaskSpec(t, ("--part", str(t))) for t in tasks)
    return SubmitRequest(SESSION, name, tag, "", "/work", specs, tasks != [None], extra=dict(EXTRA))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Corpus]:
    """Real answers: a plain Job and an Indexed Job of five, listed as they are created, run, succeed,
    fail with an exit code, are OOM-killed, evicted, wait on an image, and after one is deleted."""
    server = MangledApiServer(token=TOKEN)
    server.start()
    kubeconfig = k8s.write_kubeconfig(
        tmp_path_factory.mktemp("k8s") / "kubeconfig", {"lab": (server, NAMESPACE)}, "lab"
    )
    corpus = Corpus(
        server, kubeconfig, [], ["train", "sweep"], ["jobdeck:aaaaaaaaaaaa", "jobdeck:bbbbbbbbbbbb"], []
    )

    def snapshot() -> None:
        selector = {"labelSelector": corpus.backend().selector}
        corpus.answers.append(
            (server.list_jobs(NAMESPACE, selector, b"")[1], server.list_pods(NAMESPACE, selector, b"")[1])
        )

    async def build() -> None:
        backend = corpus.backend()
        try:
            for name, tag, tasks in (
                ("train", corpus.tags[0], [None]),
                ("sweep", corpus.tags[1], [0, 1, 2, 3, 4]),
            ):
                result = await backend.submit(request(name, tag, tasks))
                corpus.ids += list(result.task_ids.values())
        finally:
            await backend.close()

    asyncio.run(build())
    train, sweep = (job_id.split("_")[0] for job_id in (corpus.ids[0], corpus.ids[1]))
    snapshot()
    pods = {index: server.pod(sweep, index, NAMESPACE) for index in range(5)}
    for pod in pods.values():
        server.run(pod, NAMESPACE)
    server.wait(server.pod(train, None, NAMESPACE), "ImagePullBackOff", "Back-off pulling image", NAMESPACE)
    snapshot()
    server.succeed(pods[0], NAMESPACE)
    server.fail(pods[1], exit_code=3, namespace=NAMESPACE)
    server.fail(pods[3], exit_code=137, reason="OOMKilled", namespace=NAMESPACE)
    server.evict(pods[4], NAMESPACE)
    server.restart_container(pods[2], 1, namespace=NAMESPACE)
    snapshot()
    server.delete_job(train, NAMESPACE)
    snapshot()
    yield corpus
    server.stop()


# -- mutations of real answers ------------------------------------------------------------------------

LEAVES = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**63), st.floats(allow_nan=True), st.text(max_size=20),
    st.sampled_from(["", "0", "-1", "1-", "a,b", "3-1", "Failed", "Complete", "True", "2024-13-40T99:00:00Z",
                     "9" * 30, "0-99999999999", "k8s://x", "_", "\x00"]),
)  # fmt: skip
ANY_JSON = st.recursive(LEAVES, lambda inner: st.one_of(st.lists(inner, max_size=4),
                        st.dictionaries(st.text(max_size=8), inner, max_size=4)), max_leaves=12)  # fmt: skip


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every place in a JSON document (as a path of keys and indexes)."""
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from paths(value, (*prefix, index))


def mutated(document: Json, draw: Callable[[Any], Any]) -> Json:
    """The document with a few places replaced by other JSON, deleted, or emptied."""
    document = copy.deepcopy(document)
    for _ in range(draw(st.integers(1, 6))):
        where = draw(st.sampled_from(list(paths(document))[1:] or [()]))
        if not where:
            return draw(ANY_JSON)
        parent = document
        for step in where[:-1]:
            parent = parent[step]
        how = draw(st.sampled_from(["replace", "delete", "empty"]))
        if how == "delete":
            del parent[where[-1]]
        elif how == "empty":
            parent[where[-1]] = (
                type(parent[where[-1]])() if isinstance(parent[where[-1]], (dict, list, str)) else None
            )
        else:
            parent[where[-1]] = draw(ANY_JSON)
    return document


def well_formed(o: Observation) -> None:
    """What the engine relies on: every field of the type it is declared with, and a word the state
    map takes."""
    assert isinstance(o.job_id, str) and o.job_id and isinstance(o.raw_state, str) and o.raw_state, o
    for text in (o.raw_id, o.name, o.tag, o.reason, o.log_path):
        assert text is None or isinstance(text, str), o
    for number in (o.exit_code, o.signal):
        assert number is None or (isinstance(number, int) and not isinstance(number, bool)), o
    for moment in (o.submit_time, o.start_time, o.end_time):
        assert moment is None or (isinstance(moment, float) and math.isfinite(moment)), o
    assert isinstance(o.requeues, int) and not isinstance(o.requeues, bool) and o.requeues >= 0, o
    map_kubernetes(o.raw_state, o.reason)


def answered(corpus: Corpus, mangle: Mangle) -> list[str]:
    """poll, find and cancel with the server's lists mangled; what each did (never another exception)."""
    corpus.server.mangle = mangle

    async def ask() -> list[str]:
        backend = corpus.backend()
        done = []
        try:
            for what, call in (
                ("poll", lambda: backend.poll(corpus.ids, time.time() - 3600)),
                ("find", lambda: backend.find(corpus.names, corpus.tags, time.time() - 3600)),
                ("cancel", lambda: backend.cancel(corpus.ids[:1])),
            ):
                try:
                    result = await call()
                except (BackendUnavailable, SchedulerRejected) as exc:
                    assert "\n" not in str(exc), exc
                    done.append(f"{what}: refused")
                    continue
                if isinstance(result, PollReport):
                    for observation in result.observations.values():
                        well_formed(observation)
                done.append(f"{what}: read")
        finally:
            await backend.close()
        return done

    try:
        return asyncio.run(ask())
    finally:
        corpus.server.mangle = None


HYPOTHESIS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def test_every_real_answer_is_read(corpus: Corpus) -> None:
    for jobs, pods in corpus.answers:
        assert answered(corpus, lambda kind, _, j=jobs, p=pods: j if kind == "jobs" else p)[:2] == [
            "poll: read",
            "find: read",
        ]


@HYPOTHESIS
@given(st.data())
def test_mutated_real_answers(corpus: Corpus, data: st.DataObject) -> None:
    jobs, pods = data.draw(st.sampled_from(corpus.answers))
    bad_jobs, bad_pods = mutated(jobs, data.draw), mutated(pods, data.draw)
    answered(corpus, lambda kind, _: bad_jobs if kind == "jobs" else bad_pods)
    record("k8s answers: mutated", bad_inputs=1)


@HYPOTHESIS
@given(st.data())
def test_truncated_real_answers(corpus: Corpus, data: st.DataObject) -> None:
    jobs, pods = data.draw(st.sampled_from(corpus.answers))
    which = data.draw(st.sampled_from(["jobs", "pods"]))
    text = json.dumps(jobs if which == "jobs" else pods).encode()
    cut = text[: data.draw(st.integers(0, len(text) - 1))]
    answered(corpus, lambda kind, answer: cut if kind == which else answer)
    record("k8s answers: truncated", bad_inputs=1)


@HYPOTHESIS
@given(ANY_JSON, ANY_JSON)
def test_random_json_answers(corpus: Corpus, jobs: Any, pods: Any) -> None:
    answered(corpus, lambda kind, _: jobs if kind == "jobs" else pods)
    record("k8s answers: random JSON", bad_inputs=1)
