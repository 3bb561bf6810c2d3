"""A TCP proxy in front of the Firestore emulator that injects outages, for the fault suite.

Point FIRESTORE_EMULATOR_HOST at `FirestoreProxy(emulator.host).start().host` and the clients'
gRPC connections (plain HTTP/2 over TCP) pass through it byte for byte. Its modes can be switched
at any time, from any thread:

- `up()`: bytes flow both ways; half-closes (FIN) and resets pass on as they arrive.
- `refuse()`: every open connection is cut with a RST (SO_LINGER 0, then close), and every new
  one is accepted and cut the same way at once. A gRPC client sees UNAVAILABLE within
  milliseconds, as when the server's host is up but nothing listens on its port.
- `stall()`: a partition. Connections stay open but nothing moves either way: bytes read from
  either side (and FINs and resets) are held, in order, and new connections are accepted and held
  too, their upstream connection made only once the stall ends. On `up()` everything held flows
  on in order, as TCP retransmits once a partition heals, so a call whose deadline has not passed
  completes. (The proxy reads at most `MAX_HELD_BYTES` per direction; past that it stops reading
  and the kernel's buffers hold the rest.)

`retarget(upstream)` sends new connections to another address (an emulator restarted on another
port) and cuts the open ones with a RST.

How this differs from a real network fault: the client's TCP connection is to the proxy on
127.0.0.1, so its kernel always sees a live peer. In a stall, the client's writes are
acknowledged and the kernel never times the connection out; a real partition would eventually
end in ETIMEDOUT after retransmissions, and a real client's SYN would go unanswered rather than
be accepted. During `refuse` the client's connect succeeds and is then reset, where a stopped
server answers the SYN itself with a RST (ECONNREFUSED); gRPC treats both as UNAVAILABLE. The
emulator's side is cut with a RST too, so it sees its peer vanish, which a partition would not
show it until its own keepalives (off by default) gave up. Nothing is dropped or reordered within
a connection, no latency or bandwidth limit is modelled, and TLS is not involved (the emulator
speaks plaintext HTTP/2).

All sockets are non-blocking and served by one thread with a selector; mode changes, timers and
`stop()` wake it through a socket pair, so it never polls. `stop()` resets every connection,
closes every socket and joins that thread.
"""

from __future__ import annotations

import contextlib
import errno
import heapq
import itertools
import selectors
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Literal

Mode = Literal["up", "refuse", "stall"]
OutageMode = Literal["refuse", "stall"]

CHUNK_BYTES = 64 * 1024
MAX_HELD_BYTES = 4 * 1024 * 1024  # per direction of a connection
APPLY_TIMEOUT_SECONDS = 5.0  # how long a mode change waits for the proxy's thread to apply it
JOIN_TIMEOUT_SECONDS = 10.0
LOOP_TIMEOUT_SECONDS = 1.0  # the selector's longest wait; every change wakes it before that
_LINGER_RESET = struct.pack("ii", 1, 0)
_MODES: tuple[Mode, ...] = ("up", "refuse", "stall")
_OUTAGE_MODES: tuple[OutageMode, ...] = ("refuse", "stall")


@dataclass(frozen=True)
class OutagePeriod:
    """One stretch of `refuse` or `stall`, in `time.monotonic()` seconds; `ended` is None while it lasts."""

    mode: OutageMode
    started: float
    ended: float | None = None

    @property
    def seconds(self) -> float | None:
        return None if self.ended is None else self.ended - self.started


@dataclass(frozen=True)
class ProxyStats:
    """What the proxy has done since it was made. `reset` counts every connection it cut with a RST
    (those refused at once included, as `refused`); `closed`, those that ended with a FIN each way;
    `buffered_bytes`, the bytes read but not yet passed on (held by a stall, or waiting for a slow
    reader)."""

    mode: Mode
    upstream: str
    accepted: int
    refused: int
    reset: int
    closed: int
    upstream_failures: int
    open_connections: int
    bytes_to_upstream: int
    bytes_to_client: int
    buffered_bytes: int
    outages: tuple[OutagePeriod, ...]

    def summary(self) -> str:
        periods = ", ".join(
            f"{p.mode} {p.seconds:.2f} s" if p.seconds is not None else f"{p.mode} (ongoing)" for p in self.outages
        )
        return (
            f"mode={self.mode} upstream={self.upstream} accepted={self.accepted} refused={self.refused} "
            f"reset={self.reset} closed={self.closed} upstream_failures={self.upstream_failures} "
            f"open={self.open_connections} bytes_to_upstream={self.bytes_to_upstream} "
            f"bytes_to_client={self.bytes_to_client} buffered={self.buffered_bytes} outages=[{periods}]"
        )


class OutageHandle:
    """An outage started by `FirestoreProxy.outage_for`. Its timer ends it (back to `up`) unless the
    mode was changed since it began, in which case the timer leaves the newer mode alone; `ended` is
    set either way, and when the proxy stops."""

    def __init__(self, proxy: FirestoreProxy, mode: OutageMode, seconds: float, epoch: int, started: float) -> None:
        self.mode = mode
        self.seconds = seconds
        self.started = started
        self.deadline = started + seconds
        self.ended = threading.Event()
        self.ended_at: float | None = None
        self._proxy = proxy
        self._epoch = epoch

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the outage to end; True if it has."""
        return self.ended.wait(timeout)

    def cancel(self) -> None:
        """End the outage now (as its timer would)."""
        self._proxy._end_outage(self)


class _Direction:
    """One way of a connection: bytes read from one side, waiting to be written to the other."""

    __slots__ = ("buffer", "done", "eof", "src_reset")

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.eof = False  # the source sent a FIN: pass it on once the buffer is empty
        self.src_reset = False  # the source failed: reset the connection once the buffer is empty
        self.done = False  # the FIN was passed on

    def readable(self) -> bool:
        return not self.eof and not self.src_reset and len(self.buffer) < MAX_HELD_BYTES


_Upstream = Literal["deferred", "connecting", "connected", "failed"]


@dataclass(eq=False)
class _Connection:
    client: socket.socket
    upstream: socket.socket | None = None
    state: _Upstream = "deferred"
    to_upstream: _Direction = field(default_factory=_Direction)
    to_client: _Direction = field(default_factory=_Direction)
    alive: bool = True


_LISTENER = object()
_WAKE = object()


@dataclass(frozen=True)
class _Target:
    name: str  # as given: "HOST:PORT"
    family: socket.AddressFamily
    address: tuple[Any, ...]  # as getaddrinfo gives it


def _target(upstream: str) -> _Target:
    """`upstream` resolved now, so that the proxy's thread never waits on a name lookup."""
    host, sep, port = upstream.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"upstream must be HOST:PORT, not {upstream!r}")
    family, _, _, _, address = socket.getaddrinfo(host.strip("[]"), int(port), type=socket.SOCK_STREAM)[0]
    return _Target(upstream, family, address)


def _reset_close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
    sock.close()


class FirestoreProxy:
    """A fault-injecting TCP proxy to `upstream` ("HOST:PORT"), listening on 127.0.0.1:`port`
    (0 for a free one). See the module's docstring for the modes."""

    def __init__(self, upstream: str, port: int = 0) -> None:
        self._requested_port = port
        self._upstream = _target(upstream)
        self._cond = threading.Condition()
        self._mode: Mode = "up"
        self._mode_epoch = 0
        self._generation = 0  # bumped by every change the proxy's thread must apply
        self._applied = 0
        self._cuts_requested = 0
        self._cuts_applied = 0
        self._outages: list[OutagePeriod] = []
        self._timers: list[tuple[float, int, OutageHandle]] = []
        self._timer_seq = itertools.count()
        self._conns: set[_Connection] = set()
        self._interest: dict[socket.socket, int] = {}
        self._accepted = self._refused = self._reset = self._closed = self._upstream_failures = 0
        self._bytes_to_upstream = self._bytes_to_client = 0
        self._listener: socket.socket | None = None
        self._selector: selectors.BaseSelector | None = None
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._started = False
        self._stopping = False
        self._stopped = False
        self.port = 0

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def host(self) -> str:
        """The value for FIRESTORE_EMULATOR_HOST."""
        if not self.port:
            raise RuntimeError("start the proxy first")
        return f"127.0.0.1:{self.port}"

    @property
    def upstream(self) -> str:
        with self._cond:
            return self._upstream.name

    @property
    def mode(self) -> Mode:
        with self._cond:
            return self._mode

    def start(self) -> FirestoreProxy:
        with self._cond:
            if self._started:
                raise RuntimeError("the proxy was started already")
            self._started = True
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", self._requested_port))
            listener.listen(128)
            listener.setblocking(False)
            self._wake_r, self._wake_w = socket.socketpair()
            self._wake_r.setblocking(False)
            self._wake_w.setblocking(False)
            self._selector = selectors.DefaultSelector()
            self._selector.register(listener, selectors.EVENT_READ, _LISTENER)
            self._selector.register(self._wake_r, selectors.EVENT_READ, _WAKE)
        except BaseException:
            listener.close()
            self._close_loop_resources()
            raise
        self._listener = listener
        self.port = listener.getsockname()[1]
        self._thread = threading.Thread(target=self._run, name=f"firestore-proxy-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Reset every connection, close every socket, end any outage timer and join the thread."""
        with self._cond:
            thread = self._thread
            if thread is None or self._stopping:
                return
            self._stopping = True
        self._wake()
        thread.join(JOIN_TIMEOUT_SECONDS)
        if thread.is_alive():
            raise RuntimeError(f"{thread.name} did not stop within {JOIN_TIMEOUT_SECONDS} s")
        self._thread = None

    def __enter__(self) -> FirestoreProxy:
        if not self._started:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- modes -----------------------------------------------------------------------------

    def up(self) -> None:
        """Bytes flow again; whatever a stall held is passed on in order."""
        self._change("up")

    def refuse(self) -> None:
        """Reset every open connection, and every new one as soon as it is accepted."""
        self._change("refuse")

    def stall(self) -> None:
        """Hold every byte, FIN and reset, both ways, on open and new connections, until `up()`."""
        self._change("stall")

    def set_mode(self, mode: Mode) -> None:
        if mode not in _MODES:
            raise ValueError(f"mode must be one of {_MODES}, not {mode!r}")
        self._change(mode)

    def retarget(self, upstream: str) -> None:
        """New connections go to `upstream`; open ones are cut with a RST."""
        self._change(None, upstream=_target(upstream))

    @contextlib.contextmanager
    def outage_mode(self, mode: OutageMode) -> Iterator[FirestoreProxy]:
        """`refuse` or `stall` for the duration of the block, then `up` (whatever the mode is then)."""
        self.set_mode(_outage_mode(mode))
        try:
            yield self
        finally:
            self.up()

    def outage_for(self, seconds: float, mode: OutageMode = "refuse") -> OutageHandle:
        """Start a `mode` outage now and end it after `seconds`, in the proxy's thread."""
        mode = _outage_mode(mode)
        if seconds < 0:
            raise ValueError("seconds must be >= 0")
        with self._cond:
            self._change_locked(mode)
            handle = OutageHandle(self, mode, seconds, self._mode_epoch, time.monotonic())
            heapq.heappush(self._timers, (handle.deadline, next(self._timer_seq), handle))
        self._wait_applied()
        return handle

    # -- what happened ---------------------------------------------------------------------

    def stats(self) -> ProxyStats:
        with self._cond:
            return self._stats_locked()

    def wait_for(self, predicate: Callable[[ProxyStats], bool], timeout: float) -> ProxyStats:
        """Wait until `predicate(stats)` holds (checked whenever the proxy does something) and return
        those stats; TimeoutError after `timeout` seconds."""
        with self._cond:
            if self._cond.wait_for(lambda: predicate(self._stats_locked()), timeout):
                return self._stats_locked()
            raise TimeoutError(f"the proxy's stats did not get there in {timeout} s: {self._stats_locked().summary()}")

    def _stats_locked(self) -> ProxyStats:
        return ProxyStats(
            mode=self._mode,
            upstream=self._upstream.name,
            accepted=self._accepted,
            refused=self._refused,
            reset=self._reset,
            closed=self._closed,
            upstream_failures=self._upstream_failures,
            open_connections=len(self._conns),
            bytes_to_upstream=self._bytes_to_upstream,
            bytes_to_client=self._bytes_to_client,
            buffered_bytes=sum(len(c.to_upstream.buffer) + len(c.to_client.buffer) for c in self._conns),
            outages=tuple(self._outages),
        )

    # -- changes, from any thread ----------------------------------------------------------

    def _change(self, mode: Mode | None, *, upstream: _Target | None = None) -> None:
        with self._cond:
            self._change_locked(mode, upstream=upstream)
        self._wait_applied()

    def _change_locked(self, mode: Mode | None, *, upstream: _Target | None = None) -> None:
        cut = False
        if mode is not None and mode != self._mode:
            now = time.monotonic()
            if self._outages and self._outages[-1].ended is None:
                self._outages[-1] = replace(self._outages[-1], ended=now)
            if mode != "up":
                self._outages.append(OutagePeriod(mode, now))
            self._mode = mode
            self._mode_epoch += 1
        if mode == "refuse":
            cut = True
        if upstream is not None:
            self._upstream = upstream
            cut = True
        if cut:
            self._cuts_requested += 1
        self._generation += 1

    def _wait_applied(self) -> None:
        """Wake the proxy's thread and wait until it has applied every change made so far, so that
        when `refuse()` returns the open connections are cut, and when `stall()` returns no byte
        moves any more."""
        self._wake()
        if threading.current_thread() is self._thread:
            return
        with self._cond:
            generation = self._generation
            if self._thread is None or self._stopping:
                return  # applied when the proxy starts; nothing to apply once it stops
            if not self._cond.wait_for(lambda: self._applied >= generation or self._stopped, APPLY_TIMEOUT_SECONDS):
                raise RuntimeError(f"the proxy's thread did not apply a change within {APPLY_TIMEOUT_SECONDS} s")

    def _end_outage(self, handle: OutageHandle) -> None:
        with self._cond:
            if handle.ended.is_set():
                return
            if self._mode_epoch == handle._epoch:
                self._change_locked("up")
        self._wait_applied()
        with self._cond:
            self._finish_handle(handle)

    def _finish_handle(self, handle: OutageHandle) -> None:
        if not handle.ended.is_set():
            handle.ended_at = time.monotonic()
            handle.ended.set()

    def _wake(self) -> None:
        wake = self._wake_w
        if wake is not None:
            with contextlib.suppress(OSError):  # BlockingIOError: a wake-up is pending already
                wake.send(b"\0")

    # -- the proxy's thread ----------------------------------------------------------------

    def _run(self) -> None:
        selector = self._selector
        assert selector is not None
        try:
            while True:
                with self._cond:
                    timeout = LOOP_TIMEOUT_SECONDS
                    if self._timers:
                        timeout = min(timeout, max(0.0, self._timers[0][0] - time.monotonic()))
                events = selector.select(timeout)
                with self._cond:
                    if self._stopping:
                        return
                    ended = self._fire_timers()
                    touched: set[_Connection] = set()
                    if self._applied != self._generation:
                        if self._cuts_applied != self._cuts_requested:
                            self._cuts_applied = self._cuts_requested
                            for conn in list(self._conns):
                                self._reset_connection(conn)
                        touched.update(self._conns)
                    for key, mask in events:
                        if key.data is _LISTENER:
                            self._accept(touched)
                        elif key.data is _WAKE:
                            self._drain_wake()
                        else:
                            conn, is_client = key.data
                            # A socket closed earlier in this round may have had its number reused.
                            if conn.alive and key.fileobj is (conn.client if is_client else conn.upstream):
                                self._on_ready(conn, is_client, mask)
                                touched.add(conn)
                    for conn in touched:
                        self._pump(conn)
                    self._applied = self._generation
                    for handle in ended:
                        self._finish_handle(handle)
                    self._cond.notify_all()
        finally:
            with self._cond:
                self._shut_down()

    def _fire_timers(self) -> list[OutageHandle]:
        now = time.monotonic()
        ended: list[OutageHandle] = []
        while self._timers and self._timers[0][0] <= now:
            _, _, handle = heapq.heappop(self._timers)
            if handle.ended.is_set():
                continue
            if self._mode_epoch == handle._epoch:
                self._change_locked("up")
            ended.append(handle)
        return ended

    def _drain_wake(self) -> None:
        assert self._wake_r is not None
        with contextlib.suppress(OSError):
            while self._wake_r.recv(4096):
                pass

    def _accept(self, touched: set[_Connection]) -> None:
        assert self._listener is not None
        while True:
            try:
                sock, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # e.g. out of file descriptors: leave it in the backlog
                return
            self._accepted += 1
            if self._mode == "refuse":
                self._refused += 1
                self._reset += 1
                _reset_close(sock)
                continue
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = _Connection(sock)
            self._conns.add(conn)
            touched.add(conn)

    def _on_ready(self, conn: _Connection, is_client: bool, mask: int) -> None:
        if is_client:
            if mask & selectors.EVENT_READ:
                self._read(conn.client, conn.to_upstream)
            return
        if conn.upstream is None:
            return
        if conn.state == "connecting":
            if mask & selectors.EVENT_WRITE:
                self._finish_connect(conn)
            return
        if mask & selectors.EVENT_READ:
            self._read(conn.upstream, conn.to_client)

    def _read(self, sock: socket.socket, direction: _Direction) -> None:
        if not direction.readable():
            return
        try:
            data = sock.recv(CHUNK_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            direction.src_reset = True
            return
        if data:
            direction.buffer += data
        else:
            direction.eof = True

    def _connect(self, conn: _Connection) -> None:
        target = self._upstream
        try:
            sock = socket.socket(target.family, socket.SOCK_STREAM)
        except OSError:  # e.g. out of file descriptors
            self._upstream_failed(conn)
            return
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.upstream = sock
        err = sock.connect_ex(target.address)
        if err == 0:
            conn.state = "connected"
        elif err in (errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EALREADY):
            conn.state = "connecting"
        else:
            self._upstream_failed(conn)

    def _finish_connect(self, conn: _Connection) -> None:
        assert conn.upstream is not None
        err = conn.upstream.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err == 0:
            conn.state = "connected"
        else:
            self._upstream_failed(conn)

    def _upstream_failed(self, conn: _Connection) -> None:
        """The upstream refused (or could not be reached): the client is reset, once a stall ends."""
        self._upstream_failures += 1
        if conn.upstream is not None:
            self._forget(conn.upstream)
            conn.upstream.close()
            conn.upstream = None
        conn.state = "failed"
        conn.to_client.src_reset = True

    def _pump(self, conn: _Connection) -> None:
        """Move what may move, pass on FINs and resets, then select what to wait for."""
        if not conn.alive:
            return
        if self._mode == "up":
            if conn.state == "deferred":
                self._connect(conn)
            if conn.state == "connected":
                assert conn.upstream is not None
                if not self._flush(conn, conn.to_upstream, conn.upstream, upstream=True):
                    return
                if not self._flush(conn, conn.to_client, conn.client, upstream=False):
                    return
            for direction in (conn.to_upstream, conn.to_client):
                if direction.src_reset and not direction.buffer:
                    self._reset_connection(conn)
                    return
            if conn.state == "connected":
                assert conn.upstream is not None
                for direction, dst in ((conn.to_upstream, conn.upstream), (conn.to_client, conn.client)):
                    if direction.eof and not direction.buffer and not direction.done:
                        try:
                            dst.shutdown(socket.SHUT_WR)
                        except OSError:
                            self._reset_connection(conn)
                            return
                        direction.done = True
                if conn.to_upstream.done and conn.to_client.done:
                    self._close_connection(conn)
                    return
        self._select(conn)

    def _flush(self, conn: _Connection, direction: _Direction, dst: socket.socket, *, upstream: bool) -> bool:
        """Write what `direction` holds to `dst` until it would block; False if `dst` failed."""
        while direction.buffer:
            try:
                sent = dst.send(direction.buffer)
            except (BlockingIOError, InterruptedError):
                return True
            except OSError:
                self._reset_connection(conn)
                return False
            del direction.buffer[:sent]
            if upstream:
                self._bytes_to_upstream += sent
            else:
                self._bytes_to_client += sent
        return True

    def _select(self, conn: _Connection) -> None:
        flowing = self._mode == "up"
        client_events = selectors.EVENT_READ if conn.to_upstream.readable() else 0
        if flowing and conn.to_client.buffer:
            client_events |= selectors.EVENT_WRITE
        self._want(conn.client, client_events, (conn, True))
        if conn.upstream is not None:
            if conn.state == "connecting":
                upstream_events = selectors.EVENT_WRITE
            else:
                upstream_events = selectors.EVENT_READ if conn.to_client.readable() else 0
                if flowing and conn.to_upstream.buffer:
                    upstream_events |= selectors.EVENT_WRITE
            self._want(conn.upstream, upstream_events, (conn, False))

    def _want(self, sock: socket.socket, events: int, data: tuple[_Connection, bool]) -> None:
        assert self._selector is not None
        current = self._interest.get(sock, 0)
        if events == current:
            return
        if not events:
            self._forget(sock)
        elif not current:
            self._selector.register(sock, events, data)
            self._interest[sock] = events
        else:
            self._selector.modify(sock, events, data)
            self._interest[sock] = events

    def _forget(self, sock: socket.socket) -> None:
        if self._interest.pop(sock, 0):
            assert self._selector is not None
            self._selector.unregister(sock)

    def _reset_connection(self, conn: _Connection) -> None:
        self._end_connection(conn, _reset_close)
        self._reset += 1

    def _close_connection(self, conn: _Connection) -> None:
        self._end_connection(conn, socket.socket.close)
        self._closed += 1

    def _end_connection(self, conn: _Connection, close: Callable[[socket.socket], None]) -> None:
        conn.alive = False
        self._conns.discard(conn)
        for sock in (conn.client, conn.upstream):
            if sock is not None:
                self._forget(sock)
                close(sock)
        conn.upstream = None

    def _shut_down(self) -> None:
        for conn in list(self._conns):
            self._reset_connection(conn)
        now = time.monotonic()
        if self._outages and self._outages[-1].ended is None:
            self._outages[-1] = replace(self._outages[-1], ended=now)
        for _, _, handle in self._timers:
            self._finish_handle(handle)
        self._timers.clear()
        if self._listener is not None:
            self._listener.close()
        self._close_loop_resources()
        self._stopped = True
        self._cond.notify_all()

    def _close_loop_resources(self) -> None:
        if self._selector is not None:
            self._selector.close()
        for sock in (self._wake_r, self._wake_w):
            if sock is not None:
                sock.close()
        self._wake_w = None


def _outage_mode(mode: str) -> OutageMode:
    if mode not in _OUTAGE_MODES:
        raise ValueError(f"an outage's mode must be one of {_OUTAGE_MODES}, not {mode!r}")
    return mode
