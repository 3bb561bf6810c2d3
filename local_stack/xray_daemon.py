"""The X-Ray daemon on this machine: a UDP listener on 127.0.0.1 that takes what the X-Ray SDKs
send to the daemon in Lambda (AWS_XRAY_DAEMON_ADDRESS) and keeps it, so that a local run's trace
can be looked at instead of being uploaded to X-Ray.

The protocol is the daemon's: each datagram is a JSON header line, `{"format": "json",
"version": 1}`, a newline, then one segment or subsegment document (the X-Ray segment document
format). Every document whose header and body parse, and which has a name, an id, a trace_id and a
start_time (what X-Ray requires of a segment and of a subsegment sent on its own), is recorded as
it came; any other datagram is counted in `malformed`, never fatal. As with the real daemon, a
document too large for one datagram never arrives (the SDKs send one document per datagram: the
Python SDK logs "Failed to send entity to Daemon." and drops it).

`documents()` and `trace(trace_id)` return what was recorded; `entities(trace_id)` flattens a
trace's documents (and the subsegments nested in them) into one list, the last version of each
entity winning (an in-progress subsegment is replaced by the complete one); `tree(trace_id)` and
`summary()` render traces for reading (names, origins, durations, HTTP status, AWS operation,
errors). `wait_for` waits for documents, which arrive a little after the code that sent them has
returned.

Also here, for the local stand-ins that emit segments of their own (the Lambda runtime, the API
gateway): the X-Ray trace header (TraceHeader), new trace and entity ids, and `send_document`.

Whoever starts a daemon stops it; what it recorded stays readable after stop().
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeGuard

HOST = "127.0.0.1"
PROTOCOL_HEADER = {"format": "json", "version": 1}
DATAGRAM_BYTES = 65_535  # the most one UDP datagram carries (the daemon reads 64 KB)
MAX_DOCUMENTS = 100_000  # kept at most, the oldest dropped first (a long `make local` run)
RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024  # asked of the kernel, which may grant less
POLL_SECONDS = 0.1  # how soon stop() is noticed
TRACE_ID = re.compile(r"1-[0-9a-f]{8}-[0-9a-f]{24}")
ENTITY_ID = re.compile(r"[0-9a-f]{16}")

Document = dict[str, Any]


def new_trace_id(now: float | None = None) -> str:
    """An X-Ray trace id: version 1, the epoch seconds in 8 hex digits, 96 random bits."""
    return f"1-{int(time.time() if now is None else now):08x}-{secrets.token_hex(12)}"


def new_entity_id() -> str:
    """A segment or subsegment id: 64 random bits in 16 hex digits."""
    return secrets.token_hex(8)


@dataclass(frozen=True)
class TraceHeader:
    """The X-Ray tracing header (X-Amzn-Trace-Id, Lambda's _X_AMZN_TRACE_ID, SQS's
    AWSTraceHeader): `Root=<trace id>;Parent=<entity id>;Sampled=<0|1>`. `sampled` None: no
    decision yet (absent, or `?`)."""

    root: str
    parent: str | None = None
    sampled: bool | None = None

    @classmethod
    def parse(cls, text: str | None) -> TraceHeader | None:
        """The header's Root, Parent and Sampled (in any order, other fields ignored); None when
        it has no valid Root."""
        if not text:
            return None
        fields: dict[str, str] = {}
        for part in text.split(";"):
            key, equals, value = part.strip().partition("=")
            if equals:
                fields[key.strip().lower()] = value.strip()
        root = fields.get("root", "").lower()
        if not TRACE_ID.fullmatch(root):
            return None
        parent = fields.get("parent", "").lower()
        sampled = {"1": True, "0": False}.get(fields.get("sampled", ""))
        return cls(root, parent if ENTITY_ID.fullmatch(parent) else None, sampled)

    def __str__(self) -> str:
        parts = [f"Root={self.root}"]
        if self.parent is not None:
            parts.append(f"Parent={self.parent}")
        if self.sampled is not None:
            parts.append(f"Sampled={int(self.sampled)}")
        return ";".join(parts)

    @classmethod
    def next_hop(cls, caller: TraceHeader | None) -> TraceHeader:
        """The header a hop (a gateway stage, a function invocation) runs with: the caller's trace
        and its sampling decision, if it made one, or a new sampled trace; the Parent is the
        hop's own segment."""
        sampled = True if caller is None or caller.sampled is None else caller.sampled
        return cls(caller.root if caller else new_trace_id(), new_entity_id(), sampled)


def send_document(address: str, document: Mapping[str, Any]) -> None:
    """Send one segment or subsegment document to the daemon at `address` ("host:port"), as the
    SDKs' UDP emitters do; like them, never raises for the network."""
    host, _, port = address.rpartition(":")
    datagram = (json.dumps(PROTOCOL_HEADER) + "\n" + json.dumps(document, default=str)).encode()
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        sender.sendto(datagram, (host, int(port)))


@dataclass
class Entity:
    """A segment or subsegment of a trace, read from its document."""

    name: str
    id: str
    trace_id: str
    parent_id: str | None
    start_time: float
    end_time: float | None
    document: Mapping[str, Any] = field(repr=False)

    @property
    def origin(self) -> str | None:
        return self.document.get("origin")

    @property
    def in_progress(self) -> bool:
        return bool(self.document.get("in_progress"))

    @property
    def duration_ms(self) -> float | None:
        return None if self.end_time is None else (self.end_time - self.start_time) * 1000

    @property
    def http_status(self) -> int | None:
        http = self.document.get("http")
        status = (http.get("response") or {}).get("status") if isinstance(http, dict) else None
        return status if isinstance(status, int) else None

    @property
    def aws_operation(self) -> str | None:
        aws = self.document.get("aws")
        operation = aws.get("operation") if isinstance(aws, dict) else None
        return operation if isinstance(operation, str) else None

    @property
    def flags(self) -> list[str]:
        """FAULT (5xx, an unhandled error), ERROR (4xx), THROTTLE (429), as the document marks it."""
        return [flag.upper() for flag in ("fault", "error", "throttle") if self.document.get(flag)]

    @property
    def exceptions(self) -> list[str]:
        cause = self.document.get("cause")
        if not isinstance(cause, dict):
            return []
        found = []
        for exception in cause.get("exceptions") or []:
            if isinstance(exception, dict):
                kind, message = exception.get("type"), exception.get("message")
                found.append(": ".join(str(part) for part in (kind, message) if part))
        return found

    def line(self) -> str:
        """One line for the tree: name, origin, duration, HTTP status, AWS operation, errors."""
        parts = [self.name]
        if self.origin:
            parts.append(f"({self.origin})")
        duration = self.duration_ms
        parts.append("in progress" if duration is None else f"{duration:.1f} ms")
        if self.aws_operation:
            parts.append(f"aws {self.aws_operation}")
        if self.http_status is not None:
            parts.append(f"http {self.http_status}")
        parts += self.flags
        parts += [f"[{exception}]" for exception in self.exceptions]
        return "  ".join(parts)


def _entities(document: Mapping[str, Any], parent_id: str | None, trace_id: str) -> Iterable[Entity]:
    """The entity and the subsegments nested in it (which carry neither trace id nor parent id)."""
    entity = Entity(
        name=str(document.get("name", "?")),
        id=str(document.get("id", "?")),
        trace_id=str(document.get("trace_id") or trace_id),
        parent_id=document.get("parent_id") or parent_id,
        start_time=float(document.get("start_time") or 0.0),
        end_time=float(document["end_time"]) if isinstance(document.get("end_time"), int | float) else None,
        document=document,
    )
    yield entity
    for child in document.get("subsegments") or []:
        if isinstance(child, dict):
            yield from _entities(child, entity.id, entity.trace_id)


def _recordable(document: Any) -> TypeGuard[Document]:
    return (
        isinstance(document, dict)
        and all(isinstance(document.get(key), str) and document[key] for key in ("name", "id", "trace_id"))
        and isinstance(document.get("start_time"), int | float)
    )


class XRayDaemon:
    """start(), send to `address`, read what arrived, stop()."""

    def __init__(self, host: str = HOST, port: int = 0, *, max_documents: int = MAX_DOCUMENTS) -> None:
        self._bind = (host, port)
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._changed = threading.Condition()
        self._documents: deque[Document] = deque(maxlen=max_documents)
        self._malformed = 0
        self._dropped = 0
        self.host, self.port = host, port

    @property
    def address(self) -> str:
        """Where to send: AWS_XRAY_DAEMON_ADDRESS's "host:port"."""
        if self._socket is None:
            raise RuntimeError("start the X-Ray daemon first")
        return f"{self.host}:{self.port}"

    def start(self) -> XRayDaemon:
        if self._socket is not None:
            raise RuntimeError("the X-Ray daemon is already started")
        listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            with contextlib.suppress(OSError):
                listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER_BYTES)
            listener.bind(self._bind)
            listener.settimeout(POLL_SECONDS)
        except BaseException:
            listener.close()
            raise
        self._socket = listener
        self.host, self.port = listener.getsockname()[:2]
        self._stopping.clear()
        self._thread = threading.Thread(target=self._listen, args=(listener,), name="xray-daemon", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening (what already arrived is read first) and close the socket. What was
        recorded stays readable."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def __enter__(self) -> XRayDaemon:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _listen(self, listener: socket.socket) -> None:
        while True:
            stopping = self._stopping.is_set()
            if stopping:  # read what already arrived, then end
                listener.setblocking(False)
            try:
                datagram = listener.recv(DATAGRAM_BYTES)
            except (TimeoutError, BlockingIOError):
                if stopping:
                    return
                continue
            except OSError:
                return
            self.accept(datagram)

    def accept(self, datagram: bytes) -> bool:
        """Record one datagram of the daemon protocol; False (counted as malformed) if it is not one."""
        header, newline, body = datagram.partition(b"\n")
        try:
            document = json.loads(body) if newline and json.loads(header) == PROTOCOL_HEADER else None
        except (ValueError, UnicodeDecodeError):
            document = None
        with self._changed:
            if not _recordable(document):
                self._malformed += 1
                return False
            if len(self._documents) == self._documents.maxlen:
                self._dropped += 1
            self._documents.append(document)
            self._changed.notify_all()
        return True

    @property
    def malformed(self) -> int:
        """Datagrams that were not a header line and a segment or subsegment document."""
        with self._changed:
            return self._malformed

    @property
    def dropped(self) -> int:
        """Documents let go because more than max_documents arrived."""
        with self._changed:
            return self._dropped

    def documents(self) -> list[Document]:
        """Every document recorded, in the order they arrived."""
        with self._changed:
            return list(self._documents)

    def trace(self, trace_id: str) -> list[Document]:
        """The documents of one trace (by its id, "1-..."), in the order they arrived."""
        return [document for document in self.documents() if document.get("trace_id") == trace_id]

    def trace_ids(self) -> list[str]:
        """Every trace seen, in the order of its first document."""
        return list(dict.fromkeys(str(document["trace_id"]) for document in self.documents()))

    def clear(self) -> None:
        with self._changed:
            self._documents.clear()
            self._malformed = self._dropped = 0

    def wait_for(
        self, predicate: Callable[[Document], bool], *, count: int = 1, timeout: float = 10.0
    ) -> list[Document]:
        """The recorded documents `predicate` accepts, once there are at least `count`;
        TimeoutError with what did arrive if not within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(found := [d for d in self._documents if predicate(d)]) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._changed.wait(remaining)
            else:
                return found
        raise TimeoutError(f"{len(found)} of {count} documents within {timeout:g} s; recorded:\n{self.summary()}")

    def entities(self, trace_id: str) -> list[Entity]:
        """Every segment and subsegment of the trace, nested ones included, by start time; an
        entity sent more than once (in progress, then complete) is its last version."""
        latest: dict[str, Entity] = {}
        for document in self.trace(trace_id):
            for entity in _entities(document, None, trace_id):
                latest.pop(entity.id, None)
                latest[entity.id] = entity
        return sorted(latest.values(), key=lambda entity: entity.start_time)

    def tree(self, trace_id: str) -> str:
        """The trace as an indented tree, one entity a line. An entity whose parent was not
        recorded (a caller that sent no segment, a document lost) starts a tree of its own,
        marked with the parent id it names."""
        entities = self.entities(trace_id)
        ids = {entity.id for entity in entities}
        children: dict[str | None, list[Entity]] = {}
        for entity in entities:
            children.setdefault(entity.parent_id if entity.parent_id in ids else None, []).append(entity)
        lines = [f"trace {trace_id}: {len(entities)} segments and subsegments"]

        shown: set[str] = set()

        def render(entity: Entity, depth: int) -> None:
            if entity.id in shown:  # a document naming itself or its descendant as its parent
                return
            shown.add(entity.id)
            orphan = depth == 0 and entity.parent_id is not None
            lines.append("  " * (depth + 1) + entity.line() + (f"  (parent {entity.parent_id})" if orphan else ""))
            for child in children.get(entity.id, []):
                render(child, depth + 1)

        for root in children.get(None, []):
            render(root, 0)
        return "\n".join(lines)

    def summary(self, trace_ids: Iterable[str] | None = None) -> str:
        """The trees of the traces named (all of them by default), with the malformed count."""
        with self._changed:
            malformed = self._malformed
        chosen = self.trace_ids() if trace_ids is None else list(trace_ids)
        text = "\n".join(self.tree(trace_id) for trace_id in chosen) or "no traces"
        return text + (f"\n{malformed} malformed datagrams" if malformed else "")
