"""Conformance of the Firestore meter against the emulator: each kind of RPC counts as Firestore
bills it (https://firebase.google.com/docs/firestore/pricing), whichever process sent it.

The emulator here is this module's own, so nothing else runs against it and counts are exact."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import firebase_admin
import pytest
from firebase_admin import firestore
from google.api_core.exceptions import AlreadyExists
from google.cloud.firestore_v1.base_query import FieldFilter

from local_stack.firestore_emulator import FirestoreEmulator
from local_stack.firestore_meter import FirestoreMeter
from storyimages.adapters.firebase_app import AnonymousCredential, firebase_app

PROJECT = "demo-meter"
DEADLINE_SECONDS = 10.0
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def emulator() -> Iterator[FirestoreEmulator]:
    running = FirestoreEmulator().start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def db(emulator: FirestoreEmulator) -> Iterator[Any]:
    """A firebase-admin client on this module's emulator (the client reads the host when made)."""
    saved = os.environ.get("FIRESTORE_EMULATOR_HOST")
    os.environ["FIRESTORE_EMULATOR_HOST"] = emulator.host
    try:
        app = firebase_app(f"meter-{uuid.uuid4().hex[:8]}", PROJECT, AnonymousCredential)
        client = firestore.client(app)
    finally:
        if saved is None:
            os.environ.pop("FIRESTORE_EMULATOR_HOST", None)
        else:
            os.environ["FIRESTORE_EMULATOR_HOST"] = saved
    yield client
    client.close()
    firebase_admin.delete_app(app)


@pytest.fixture
def collection(db: Any) -> Any:
    """A fresh collection per test."""
    return db.collection(f"meter-{uuid.uuid4().hex[:10]}")


def fill(db: Any, collection: Any, count: int) -> list[str]:
    batch = db.batch()
    names = [f"doc-{n}" for n in range(count)]
    for n, name in enumerate(names):
        batch.create(collection.document(name), {"n": n})
    batch.commit()
    return [f"{collection.id}/{name}" for name in names]


def test_given_no_matching_document_when_queried_then_one_read_is_billed(emulator, db, collection) -> None:
    fill(db, collection, 2)

    with FirestoreMeter(emulator) as meter:
        found = list(collection.where(filter=FieldFilter("n", ">", 99)).stream())

    assert found == []
    assert meter.queries == [0]
    assert meter.billed_reads == 1


def test_given_three_matching_documents_when_queried_then_three_reads_are_billed(emulator, db, collection) -> None:
    fill(db, collection, 5)

    with FirestoreMeter(emulator) as meter:
        found = list(collection.where(filter=FieldFilter("n", ">=", 2)).stream())

    assert len(found) == 3
    assert meter.queries == [3]
    assert meter.billed_reads == 3


def test_given_an_ordered_limited_query_when_run_then_its_returned_documents_are_billed(
    emulator, db, collection
) -> None:
    fill(db, collection, 4)

    with FirestoreMeter(emulator) as meter:
        latest = list(collection.order_by("n", direction="DESCENDING").limit(1).stream())

    assert [d.id for d in latest] == ["doc-3"]
    assert (meter.queries, meter.billed_reads) == ([1], 1)


def test_given_two_documents_when_read_with_get_all_then_one_rpc_bills_two_reads(emulator, db, collection) -> None:
    paths = fill(db, collection, 2)

    with FirestoreMeter(emulator) as meter:
        snapshots = list(db.get_all([collection.document("doc-0"), collection.document("doc-1")]))

    assert all(s.exists for s in snapshots)
    assert [sorted(r) for r in meter.reads] == [sorted(paths)]
    assert meter.missing == []
    assert meter.billed_reads == 2


def test_given_a_missing_document_when_got_then_it_is_billed_and_reported_missing(emulator, collection) -> None:
    with FirestoreMeter(emulator) as meter:
        snapshot = collection.document("nobody").get()

    assert not snapshot.exists
    assert meter.reads == [[f"{collection.id}/nobody"]]
    assert meter.missing == [f"{collection.id}/nobody"]
    assert meter.billed_reads == 1


def test_given_a_batch_of_three_writes_when_committed_then_one_commit_bills_three_writes(
    emulator, db, collection
) -> None:
    with FirestoreMeter(emulator) as meter:
        paths = fill(db, collection, 3)

    assert [sorted(c) for c in meter.commits] == [sorted(paths)]
    assert (meter.document_writes, meter.document_deletes, meter.billed_reads) == (3, 0, 0)


def test_given_a_commit_refused_by_a_precondition_then_it_is_seen_but_bills_no_write(emulator, db, collection) -> None:
    paths = fill(db, collection, 1)

    with FirestoreMeter(emulator) as meter, pytest.raises(AlreadyExists):
        collection.document("doc-0").create({"n": 1})

    assert meter.commits == [paths]
    assert meter.failed_commits == [paths]
    assert meter.document_writes == 0


def test_given_updates_and_a_delete_when_committed_then_writes_and_deletes_are_billed_apart(
    emulator, db, collection
) -> None:
    fill(db, collection, 2)

    with FirestoreMeter(emulator) as meter:
        collection.document("doc-0").update({"n": 10})
        collection.document("doc-1").delete()

    assert len(meter.commits) == 2
    assert (meter.document_writes, meter.document_deletes) == (1, 1)


def test_given_a_count_over_few_documents_when_aggregated_then_one_read_is_billed(emulator, db, collection) -> None:
    fill(db, collection, 3)

    with FirestoreMeter(emulator) as meter:
        empty = collection.where(filter=FieldFilter("n", ">", 99)).count().get()
        full = collection.count().get()

    assert (empty[0][0].value, full[0][0].value) == (0, 3)
    assert meter.aggregations == [0, 3]
    assert meter.billed_reads == 2  # one per aggregation reading up to 1,000 index entries


def test_given_a_listener_when_a_document_changes_then_it_bills_the_first_snapshot_and_the_change(
    emulator, db, collection
) -> None:
    fill(db, collection, 2)
    sizes: list[int] = []
    changed = threading.Condition()

    def on_snapshot(documents: list[Any], _changes: Any, _read_time: Any) -> None:
        with changed:
            sizes.append(len(documents))
            changed.notify_all()

    with FirestoreMeter(emulator) as meter:
        watch = collection.on_snapshot(on_snapshot)
        try:
            with changed:
                assert changed.wait_for(lambda: len(sizes) >= 1, timeout=DEADLINE_SECONDS)
            collection.document("doc-1").update({"n": 5})
            with changed:
                assert changed.wait_for(lambda: len(sizes) >= 2, timeout=DEADLINE_SECONDS)
        finally:
            watch.unsubscribe()

    assert sizes[:2] == [2, 2]
    assert meter.listens == [2, 1]  # both documents, then the one that changed
    assert meter.billed_reads == 3


def test_given_another_process_when_it_reads_and_writes_then_the_meter_counts_its_rpcs(emulator, collection) -> None:
    # Given a firebase-admin client in a separate process, as a Lambda worker would be
    script = f"""
import firebase_admin
from firebase_admin import firestore
from storyimages.adapters.firebase_app import AnonymousCredential
app = firebase_admin.initialize_app(AnonymousCredential(), {{"projectId": "{PROJECT}"}}, name="worker")
db = firestore.client(app)
db.collection("{collection.id}").document("from-worker").create({{"n": 1}})
assert len(list(db.collection("{collection.id}").stream())) == 1
"""
    env = os.environ | {"FIRESTORE_EMULATOR_HOST": emulator.host, "PYTHONPATH": str(ROOT / "functions")}

    # When it runs inside the meter's block
    with FirestoreMeter(emulator) as meter:
        subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=60)

    # Then its commit and its query are counted, as the server received them
    assert meter.commits == [[f"{collection.id}/from-worker"]]
    assert meter.queries == [1]
    assert (meter.document_writes, meter.billed_reads) == (1, 1)


def test_given_a_meter_used_outside_a_block_when_refreshed_then_it_says_how_to_use_it(emulator) -> None:
    with pytest.raises(RuntimeError, match="context manager"):
        FirestoreMeter(emulator).refresh()
