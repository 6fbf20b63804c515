"""Container logs as a kubelet keeps and serves them, for the test kubelet.

Each container attempt writes one file in the CRI log format (`TIME STREAM F|P TEXT`, F ending a
line, P a part of one), so a log read through the API server answers `timestamps`, `sinceTime`,
`sinceSeconds`, `tailLines`, `limitBytes`, `previous` and `follow` from what the process really
wrote. The HTTPS endpoint is the kubelet's `/containerLogs/NAMESPACE/POD/CONTAINER`, which the API
server calls for `pods/log` with its kubelet client certificate.
"""

from __future__ import annotations

import ssl
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

FOLLOW_PAUSE = 0.1  # seconds between looks at a followed log for new lines


def rfc3339_nano(at: float) -> str:
    moment = datetime.fromtimestamp(at, UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond:06d}000Z"


def parse_time(text: str) -> float:
    """Epoch seconds of an RFC 3339 time, nanoseconds cut to what a float holds."""
    head, _, fraction = text.rstrip("Z").partition(".")
    whole = datetime.fromisoformat(head).replace(tzinfo=UTC).timestamp()
    return whole + (float(f"0.{fraction}") if fraction else 0.0)


@dataclass(frozen=True, slots=True)
class Entry:
    stamp: str
    at: float
    stream: str
    text: bytes  # with its newline when the line is whole (F)


class LogFile:
    """One container attempt's log. Written by the threads that read the process's pipes; `done`
    is set when the process has exited and its pipes are drained."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.done = threading.Event()
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()

    def append(self, stream: str, data: bytes) -> None:
        """One line read from a pipe (its newline kept), or the part before the pipe closed."""
        whole = data.endswith(b"\n")
        record = f"{rfc3339_nano(time.time())} {stream} {'F' if whole else 'P'} ".encode()
        with self._lock, self.path.open("ab") as out:
            out.write(record + data.removesuffix(b"\n") + b"\n")

    def entries(self, offset: int = 0) -> tuple[list[Entry], int]:
        """The entries written after byte `offset`, and the offset after them."""
        with self.path.open("rb") as log:
            log.seek(offset)
            data = log.read()
        end = data.rfind(b"\n") + 1
        found = []
        for line in data[:end].splitlines():
            stamp, stream, tag, text = line.split(b" ", 3)
            found.append(
                Entry(
                    stamp.decode(),
                    parse_time(stamp.decode()),
                    stream.decode(),
                    text + (b"\n" if tag == b"F" else b""),
                )
            )
        return found, offset + end


@dataclass(frozen=True, slots=True)
class LogQuery:
    """The query of a /containerLogs request, as the API server passes pods/log's options on."""

    follow: bool = False
    previous: bool = False
    timestamps: bool = False
    tail_lines: int | None = None
    limit_bytes: int | None = None
    since: float | None = None

    @classmethod
    def parse(cls, query: str) -> LogQuery:
        values = {key: items[-1] for key, items in parse_qs(query).items()}
        since = None
        if "sinceTime" in values:
            since = parse_time(values["sinceTime"])
        elif "sinceSeconds" in values:
            since = time.time() - int(values["sinceSeconds"])
        return cls(
            follow=values.get("follow") == "true",
            previous=values.get("previous") == "true",
            timestamps=values.get("timestamps") == "true",
            tail_lines=int(values["tailLines"]) if "tailLines" in values else None,
            limit_bytes=int(values["limitBytes"]) if "limitBytes" in values else None,
            since=since,
        )

    def chunks(self, log: LogFile) -> Iterator[bytes]:
        """What the kubelet sends: the entries the query selects, then (following) new ones until
        the container has exited and its log is drained; at most limit_bytes in all."""
        entries, offset = log.entries()
        entries = [e for e in entries if self.since is None or e.at >= self.since]
        if self.tail_lines is not None:
            entries = entries[-self.tail_lines :] if self.tail_lines > 0 else []
        budget = self.limit_bytes
        while True:
            for entry in entries:
                data = (f"{entry.stamp} ".encode() if self.timestamps else b"") + entry.text
                if budget is not None:
                    data, budget = data[:budget], budget - len(data[:budget])
                yield data
                if budget == 0:
                    return
            if not self.follow:
                return
            finished = log.done.is_set()  # read before the last look, so nothing written is missed
            entries, offset = log.entries(offset)
            if not entries:
                if finished:
                    return
                time.sleep(FOLLOW_PAUSE)


Finder = Callable[[str, str, str, bool], LogFile | str]
"""(namespace, pod, container, previous) to the log file, or the message of a 400 answer."""


class LogServer(ThreadingHTTPServer):
    """The kubelet's HTTPS port: /containerLogs for clients with a certificate the CA signed."""

    daemon_threads = True

    def __init__(self, port: int, cert: Path, key: Path, client_ca: Path, find: Finder) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        context.load_verify_locations(client_ca)
        context.verify_mode = ssl.CERT_REQUIRED
        self.socket = context.wrap_socket(self.socket, server_side=True)
        self.find = find


class _Handler(BaseHTTPRequestHandler):
    server: LogServer

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        parts = [unquote(p) for p in url.path.split("/")[1:]]
        if len(parts) != 4 or parts[0] != "containerLogs":
            self._answer(404, b"not found\n")
            return
        try:
            query = LogQuery.parse(url.query)
        except ValueError as exc:
            self._answer(400, f"bad query: {exc}\n".encode())
            return
        found = self.server.find(parts[1], parts[2], parts[3], query.previous)
        if isinstance(found, str):
            self._answer(400, found.encode())
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        try:
            for chunk in query.chunks(found):
                self.wfile.write(chunk)
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            return  # the API server's client stopped following

    def _answer(self, code: int, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        print(f"kubelet http: {format % args}", file=sys.stderr, flush=True)
