"""The fault-injecting Firestore proxy, as the real client sees it: this module's own emulator
behind `local_stack.firestore_proxy.FirestoreProxy`, google-cloud-firestore in front of it. Each
test asserts the exception class and timing a mode produces and prints what it checked.

What a mode does to a `DocumentReference.get` (google-cloud-firestore 2.34, google-api-core 2.44):
- refuse, `retry=None`: ServiceUnavailable (503) within milliseconds.
- refuse, `retry=Retry(deadline=3)`: RetryError (its `cause` a ServiceUnavailable) after 1.2-3.0 s:
  the retry gives up as soon as its next sleep would pass the deadline.
- stall, `retry=None, timeout=1`: DeadlineExceeded (504) after 1 s.
- either, the default retry: it retries UNAVAILABLE and DEADLINE_EXCEEDED for up to 300 s whatever
  `timeout` says (seen: 265 s for `get(timeout=3)` under refuse; over 190 s for `get(timeout=1)`
  under stall), so no test here waits for it."""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from google.api_core.exceptions import DeadlineExceeded, RetryError, ServiceUnavailable
from google.api_core.retry import Retry
from google.auth.credentials import AnonymousCredentials
from google.cloud import firestore

from local_stack.firestore_emulator import FirestoreEmulator
from local_stack.firestore_proxy import CHUNK_BYTES, MAX_HELD_BYTES, FirestoreProxy

PROJECT = "demo-proxy"
WAIT_SECONDS = 10.0
RECOVERY = Retry(deadline=15)  # rides out gRPC's reconnect backoff after an outage, and no longer


@pytest.fixture(scope="module")
def emulator() -> Iterator[FirestoreEmulator]:
    running = FirestoreEmulator().start()
    yield running
    running.stop()


@pytest.fixture
def proxy(emulator: FirestoreEmulator) -> Iterator[FirestoreProxy]:
    with FirestoreProxy(emulator.host) as running:
        yield running
        print(f"proxy: {running.stats().summary()}")


def close_client(client: Any) -> None:
    """firestore.Client has no close(); its transport's closes the gRPC channel."""
    client._firestore_api.transport.close()


@pytest.fixture
def connect(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], Any]]:
    """Makes a client of FIRESTORE_EMULATOR_HOST=`host` (read when the client is made); closes them all."""
    clients: list[Any] = []

    def make(host: str) -> Any:
        monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", host)
        client = firestore.Client(project=PROJECT, credentials=AnonymousCredentials())
        clients.append(client)
        return client

    yield make
    for client in clients:
        close_client(client)


@pytest.fixture
def db(proxy: FirestoreProxy, connect: Callable[[str], Any]) -> Any:
    return connect(proxy.host)


def written(db: Any, data: dict[str, Any] | None = None) -> Any:
    """A new document, written through whatever `db` talks to (so its client has a connection open)."""
    doc = db.collection("proxied").document(uuid.uuid4().hex)
    doc.set(data or {"written": True}, timeout=WAIT_SECONDS)
    return doc


def timed(call: Callable[[], Any]) -> tuple[Any, float]:
    started = time.monotonic()
    return call(), time.monotonic() - started


def raises_within(exception: type[BaseException], call: Callable[[], Any]) -> tuple[BaseException, float]:
    started = time.monotonic()
    with pytest.raises(exception) as info:
        call()
    return info.value, time.monotonic() - started


# -- the real client through the proxy ---------------------------------------------------------


def test_given_the_proxy_up_when_a_client_writes_and_reads_then_both_go_through_it(proxy, db) -> None:
    doc = written(db, {"n": 1})
    snapshot, seconds = timed(lambda: doc.get(retry=None, timeout=WAIT_SECONDS))

    stats = proxy.stats()
    assert snapshot.to_dict() == {"n": 1}
    assert stats.accepted >= 1 and stats.reset == 0 and stats.refused == 0
    assert stats.bytes_to_upstream > 0 and stats.bytes_to_client > 0
    print(f"write then read through the proxy: read in {seconds * 1000:.1f} ms; {stats.summary()}")


def test_given_refuse_when_a_get_has_no_retry_then_it_raises_service_unavailable_at_once(proxy, db, connect) -> None:
    doc = written(db)
    with proxy.outage_mode("refuse"):
        cut = proxy.stats()
        open_error, open_seconds = raises_within(ServiceUnavailable, lambda: doc.get(retry=None, timeout=2))
        fresh = connect(proxy.host).document(doc.path)  # a client that must open a new connection
        new_error, new_seconds = raises_within(ServiceUnavailable, lambda: fresh.get(retry=None, timeout=2))
        refused = proxy.stats()

    assert cut.reset >= 1 and cut.open_connections == 0  # refuse() returned after cutting the open one
    assert refused.refused >= 1  # and the new one was accepted, then reset
    assert open_seconds < 1.0 and new_seconds < 1.0
    print(
        f"refuse, retry=None timeout=2: {type(open_error).__name__} in {open_seconds * 1000:.1f} ms on the open"
        f" client ({open_error}), {type(new_error).__name__} in {new_seconds * 1000:.1f} ms on a new one;"
        f" {refused.summary()}"
    )


def test_given_refuse_when_a_get_retries_for_3_s_then_it_raises_retry_error_and_works_again_after_up(proxy, db) -> None:
    doc = written(db, {"back": True})
    proxy.refuse()
    error, seconds = raises_within(RetryError, lambda: doc.get(retry=Retry(deadline=3), timeout=2))
    during = proxy.stats()
    proxy.up()
    snapshot, recovery = timed(lambda: doc.get(retry=RECOVERY, timeout=WAIT_SECONDS))

    assert isinstance(error, RetryError) and isinstance(error.cause, ServiceUnavailable)
    assert seconds < 3.5
    assert during.refused >= 1  # the retries each opened a connection, and each was reset
    assert snapshot.to_dict() == {"back": True}
    print(
        f"refuse, Retry(deadline=3): RetryError after {seconds:.2f} s (cause {type(error.cause).__name__});"
        f" {during.refused} connections refused; after up() the same client read again in {recovery:.2f} s"
    )


def test_given_stall_when_a_get_has_a_1_s_deadline_then_it_raises_deadline_exceeded(proxy, db) -> None:
    doc = written(db, {"stalled": False})
    with proxy.outage_mode("stall"):
        error, seconds = raises_within(DeadlineExceeded, lambda: doc.get(retry=None, timeout=1))
        held = proxy.stats()
    snapshot, after = timed(lambda: doc.get(retry=None, timeout=WAIT_SECONDS))

    assert 1.0 <= seconds < 2.0
    assert held.buffered_bytes > 0 and held.reset == 0 and held.open_connections >= 1  # held, not dropped
    assert snapshot.to_dict() == {"stalled": False}
    print(
        f"stall, retry=None timeout=1: {type(error).__name__} after {seconds:.2f} s with {held.buffered_bytes}"
        f" bytes held; after up() the same client read in {after * 1000:.1f} ms"
    )


def test_given_a_short_stall_when_a_get_starts_during_it_then_it_completes_once_the_stall_heals(proxy, db) -> None:
    doc = written(db, {"healed": True})
    finished: list[float] = []

    def read() -> Any:
        snapshot = doc.get(retry=None, timeout=5)
        finished.append(time.monotonic())
        return snapshot

    outage = proxy.outage_for(2.0, "stall")
    with ThreadPoolExecutor(1) as pool:
        reading = pool.submit(read)
        held = proxy.wait_for(lambda s: s.mode == "stall" and s.buffered_bytes > 0, WAIT_SECONDS)
        assert outage.wait(WAIT_SECONDS)
        snapshot = reading.result(WAIT_SECONDS)

    assert snapshot.to_dict() == {"healed": True}
    assert outage.ended_at is not None and finished[0] >= outage.ended_at  # it could not pass the stall
    assert finished[0] - outage.started < 5
    period = proxy.stats().outages[-1]
    assert period.mode == "stall" and period.seconds is not None and period.seconds >= 2.0
    print(
        f"a get started in a {outage.seconds} s stall: {held.buffered_bytes} bytes held, answered"
        f" {(finished[0] - outage.ended_at) * 1000:.1f} ms after the stall ended,"
        f" {finished[0] - outage.started:.2f} s after it began (deadline 5 s)"
    )


def test_given_a_second_emulator_when_the_proxy_is_retargeted_then_old_data_is_gone_and_new_writes_land_there(
    proxy, db, connect, emulator
) -> None:
    old = written(db, {"on": "first"})
    second = FirestoreEmulator().start()
    try:
        before = proxy.stats()
        proxy.retarget(second.host)
        cut = proxy.stats()
        missing = old.get(retry=RECOVERY, timeout=WAIT_SECONDS)
        new = db.collection("proxied").document(uuid.uuid4().hex)
        new.set({"on": "second"}, retry=RECOVERY, timeout=WAIT_SECONDS)
        on_second = connect(second.host).document(new.path).get(timeout=WAIT_SECONDS)
        on_first = connect(emulator.host).get_all([db.document(old.path), db.document(new.path)], timeout=WAIT_SECONDS)
        first = {snapshot.id: snapshot.exists for snapshot in on_first}
    finally:
        second.stop()

    assert cut.upstream == second.host and cut.reset > before.reset and cut.open_connections == 0
    assert not missing.exists
    assert on_second.to_dict() == {"on": "second"}
    assert first == {old.id: True, new.id: False}
    print(
        f"retarget {emulator.host} -> {second.host}: {cut.reset - before.reset} open connection(s) reset;"
        f" the old document is not on the new emulator (still on the first), the new one is only there"
    )


def free_port() -> int:
    """A port nobody listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_given_an_upstream_that_is_gone_when_a_get_has_no_retry_then_it_raises_service_unavailable(
    proxy, db, connect
) -> None:
    doc = written(db)
    gone = f"127.0.0.1:{free_port()}"  # as an emulator that was killed and not restarted
    proxy.retarget(gone)
    # a client made now (a cold start) must connect through the proxy to the gone upstream; the
    # writer's own client may instead fail its get on the connection the retarget reset, which
    # never reaches the upstream (seen on a busy host)
    late = connect(proxy.host).document(doc.path)
    error, seconds = raises_within(ServiceUnavailable, lambda: late.get(retry=None, timeout=2))
    failed = proxy.wait_for(lambda s: s.upstream_failures >= 1, WAIT_SECONDS)

    assert seconds < 1.0
    assert failed.upstream_failures >= 1 and failed.open_connections == 0
    print(
        f"upstream {gone} gone: {type(error).__name__} in {seconds * 1000:.1f} ms ({error});"
        f" {failed.upstream_failures} upstream connect(s) refused, the client reset each time"
    )


def socket_fds() -> int:
    count = 0
    for name in os.listdir("/proc/self/fd"):
        with_target = f"/proc/self/fd/{name}"
        try:
            if os.readlink(with_target).startswith("socket:"):
                count += 1
        except OSError:
            continue  # the directory's own descriptor, closed by now
    return count


def wait_until(condition: Callable[[], bool], timeout: float = WAIT_SECONDS) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_given_traffic_and_a_pending_outage_when_the_proxy_stops_then_no_thread_or_socket_is_left(
    emulator, connect
) -> None:
    written(connect(emulator.host))  # gRPC's own process-wide machinery exists before the baseline
    threads, sockets = set(threading.enumerate()), socket_fds()

    proxy = FirestoreProxy(emulator.host).start()
    db = connect(proxy.host)
    doc = written(db)
    outage = proxy.outage_for(60.0, "stall")
    with ThreadPoolExecutor(1) as pool:
        reading = pool.submit(doc.get, retry=None, timeout=WAIT_SECONDS)
        proxy.wait_for(lambda s: s.buffered_bytes > 0, WAIT_SECONDS)
        proxy.stop()
        with pytest.raises(ServiceUnavailable):  # stop() resets the held connection
            reading.result(WAIT_SECONDS)
    close_client(db)
    stats = proxy.stats()

    assert outage.ended.is_set()
    assert wait_until(lambda: set(threading.enumerate()) <= threads), set(threading.enumerate()) - threads
    assert wait_until(lambda: socket_fds() <= sockets), (socket_fds(), sockets)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", proxy.port), timeout=WAIT_SECONDS).close()
    assert stats.open_connections == 0 and stats.outages[-1].ended is not None
    print(f"after stop(): no extra thread, {socket_fds()} socket fds as before ({sockets}); {stats.summary()}")


# -- bytes, ordering and half-closes, with a plain TCP upstream --------------------------------


class Upstream:
    """A one-connection TCP server: sends `greeting`, reads until the client's FIN, answers
    b"got " + what it read, then closes."""

    def __init__(self, greeting: bytes = b"") -> None:
        self.greeting = greeting
        self.received = bytearray()
        self.accepted = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(WAIT_SECONDS)  # a test that fails before connecting does not hang
        self._thread = threading.Thread(target=self._serve, name="test-upstream", daemon=True)
        self._thread.start()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self._listener.getsockname()[1]}"

    def _serve(self) -> None:
        with self._listener, self._listener.accept()[0] as conn:
            conn.settimeout(WAIT_SECONDS)
            self.accepted.set()
            conn.sendall(self.greeting)
            while chunk := conn.recv(65536):
                self.received += chunk
            conn.sendall(b"got " + hashlib.sha256(self.received).hexdigest().encode())

    def join(self) -> None:
        self._thread.join(WAIT_SECONDS)
        assert not self._thread.is_alive()


def read_to_eof(sock: socket.socket) -> bytes:
    data = bytearray()
    while chunk := sock.recv(65536):
        data += chunk
    return bytes(data)


def test_given_stall_when_both_sides_send_and_half_close_then_it_all_arrives_in_order_after_up() -> None:
    upstream = Upstream(greeting=b"hello from upstream; ")
    with FirestoreProxy(upstream.host) as proxy:
        proxy.stall()
        client = socket.create_connection(("127.0.0.1", proxy.port), timeout=WAIT_SECONDS)
        with client:
            for part in (b"one ", b"two ", b"three"):
                client.sendall(part)
            client.shutdown(socket.SHUT_WR)
            held = proxy.wait_for(lambda s: s.buffered_bytes == len(b"one two three"), WAIT_SECONDS)
            connected_in_stall = upstream.accepted.is_set()
            proxy.up()
            answer = read_to_eof(client)
        upstream.join()
        stats = proxy.wait_for(lambda s: s.closed == 1, WAIT_SECONDS)

    assert held.bytes_to_upstream == 0 and not connected_in_stall  # the upstream is dialled once the stall ends
    assert bytes(upstream.received) == b"one two three"
    assert answer == b"hello from upstream; got " + hashlib.sha256(b"one two three").hexdigest().encode()
    assert stats.reset == 0 and stats.open_connections == 0
    print(
        f"stall then up: {held.buffered_bytes} bytes and a FIN held (upstream not dialled), then delivered in"
        f" order, the answer and the upstream's FIN back; {stats.summary()}"
    )


def kernel_buffer_bytes() -> int:
    """The most a loopback connection's two sockets can buffer: a send and a receive buffer's maxima."""
    most = 0
    for name in ("tcp_rmem", "tcp_wmem"):
        try:
            with open(f"/proc/sys/net/ipv4/{name}") as limits:
                most += int(limits.read().split()[2])
        except OSError:
            most += 16 * 1024 * 1024
    return most


def test_given_stall_when_a_client_sends_more_than_the_proxy_holds_then_it_stops_reading_and_loses_nothing() -> None:
    payload = os.urandom(MAX_HELD_BYTES + kernel_buffer_bytes() + 1024 * 1024)
    upstream = Upstream()
    with FirestoreProxy(upstream.host) as proxy:
        proxy.stall()
        client = socket.create_connection(("127.0.0.1", proxy.port), timeout=WAIT_SECONDS)
        with client, ThreadPoolExecutor(1) as pool:

            def send() -> None:
                client.sendall(payload)
                client.shutdown(socket.SHUT_WR)

            sending = pool.submit(send)
            held = proxy.wait_for(lambda s: s.buffered_bytes >= MAX_HELD_BYTES, WAIT_SECONDS)
            assert not sending.done()  # the rest waits in the kernels' buffers, and then in the sender
            still = proxy.stats()
            proxy.up()
            sending.result(WAIT_SECONDS)
            answer = read_to_eof(client)
        upstream.join()

    assert held.bytes_to_upstream == 0 and held.buffered_bytes < MAX_HELD_BYTES + CHUNK_BYTES
    assert still.buffered_bytes == held.buffered_bytes  # it stopped reading at its limit
    assert answer == b"got " + hashlib.sha256(payload).hexdigest().encode()
    print(
        f"{len(payload)} bytes sent into a stall: the proxy held {held.buffered_bytes} and stopped reading;"
        " after up() all arrived intact"
    )
