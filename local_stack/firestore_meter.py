"""Count the Firestore RPCs the emulator received while a block ran, from every process (the test
process and any Lambda worker alike), and what Firestore would bill for them.

    with FirestoreMeter(stack.firestore) as meter:
        ...
    assert len(meter.commits) == 1

The emulator's launcher records each RPC before it answers it; the meter asks for the records
numbered from the position it saw on entering, so on exit it holds every RPC whose answer came
back before the exit (and any other RPC the server received in the meantime: filter with
`commits_touching` / `reads_touching` when other work may be running).

Billing, as https://firebase.google.com/docs/firestore/pricing states it:
- a write per document set, updated or created in a commit that succeeded; a delete per document
  deleted; a failed commit writes nothing and is not billed;
- a read per document asked for by id (get, get_all), found or missing;
- a read per document a query returns, and at least one per query ("a minimum charge of one
  document read for each query that you perform, even if the query returns no results"), plus
  a read per result skipped by an offset;
- aggregation queries (count, sum, avg): a read per batch of up to 1,000 index entries read, at
  least one;
- listeners: a read per document added to the result set or updated, the first snapshot of a
  listener at least one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Protocol

AGGREGATION_ENTRIES_PER_READ = 1000


class RpcLog(Protocol):
    """What the meter needs of the emulator: local_stack.firestore_emulator.FirestoreEmulator."""

    def rpc_position(self) -> int: ...

    def rpc_records(self, since: int) -> tuple[list[dict[str, Any]], int]: ...


@dataclass
class FirestoreMeter:
    emulator: RpcLog
    commits: list[list[str]] = field(default_factory=list)  # document paths written, per commit received
    failed_commits: list[list[str]] = field(default_factory=list)  # those of commits that wrote nothing
    reads: list[list[str]] = field(default_factory=list)  # document paths asked for, per read by id
    missing: list[str] = field(default_factory=list)  # the paths asked for that did not exist
    queries: list[int] = field(default_factory=list)  # documents returned, per query
    aggregations: list[int] = field(default_factory=list)  # index entries read, per aggregation query
    listens: list[int] = field(default_factory=list)  # reads billed, per snapshot sent to a listener
    records: list[dict[str, Any]] = field(default_factory=list, repr=False)  # the emulator's own
    document_writes: int = 0  # billed writes: documents set, updated or created by a commit that succeeded
    document_deletes: int = 0  # billed deletes
    _since: int | None = field(default=None, repr=False)

    def __enter__(self) -> FirestoreMeter:
        self._since = self.emulator.rpc_position()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.refresh()

    def refresh(self) -> None:
        """Read the records of every RPC received since the block began (exit does this)."""
        if self._since is None:
            raise RuntimeError("use the meter as a context manager: with FirestoreMeter(emulator) as meter: ...")
        records, _next = self.emulator.rpc_records(self._since)
        self._tally(records)

    def _tally(self, records: list[dict[str, Any]]) -> None:
        self.records = records
        self.commits, self.failed_commits, self.reads, self.missing = [], [], [], []
        self.queries, self.aggregations, self.listens = [], [], []
        self.document_writes = self.document_deletes = 0
        for record in records:
            rpc, ok = record["rpc"], bool(record["ok"])
            if rpc == "Commit":
                paths = [_short(p) for p in record["paths"]]
                self.commits.append(paths)
                if ok:
                    self.document_deletes += len(record["deletes"])
                    self.document_writes += len(paths) - len(record["deletes"])
                else:
                    self.failed_commits.append(paths)
            elif not ok:
                continue  # a read that failed returned nothing and is not billed
            elif rpc == "BatchGetDocuments":
                self.reads.append([_short(p) for p in record["paths"]])
                self.missing.extend(_short(p) for p in record["missing"])
            elif rpc == "RunQuery":
                self.queries.append(len(record["documents"]))
            elif rpc == "RunAggregationQuery":
                self.aggregations.append(int(record["entries"]))
            elif rpc == "Listen":
                found = len(record["documents"])
                self.listens.append(max(1, found) if record["initial"] else found)

    @property
    def billed_reads(self) -> int:
        """Document reads as Firestore bills them (see the module's docstring)."""
        by_id = sum(len(r) for r in self.reads)
        queries = sum(max(1, n) for n in self.queries) + sum(self._skipped())
        aggregations = sum(max(1, -(-n // AGGREGATION_ENTRIES_PER_READ)) for n in self.aggregations)
        return by_id + queries + aggregations + sum(self.listens)

    def _skipped(self) -> list[int]:
        return [int(r["skipped"]) for r in self.records if r["rpc"] == "RunQuery" and r["ok"]]

    def commits_touching(self, document_prefix: str) -> list[list[str]]:
        return [c for c in self.commits if any(p.startswith(document_prefix) for p in c)]

    def reads_touching(self, document_prefix: str) -> list[list[str]]:
        return [r for r in self.reads if any(p.startswith(document_prefix) for p in r)]


def _short(name: str) -> str:
    """projects/p/databases/(default)/documents/imageJobs/x -> imageJobs/x"""
    return name.split("/documents/", 1)[-1]
