"""Count the Firestore RPCs this process sends: every write of the client library goes through
one Commit RPC, every read of documents by id through BatchGetDocuments and every query through
RunQuery, so patching those three methods of the generated client counts exactly what reaches
the server (and what Firestore bills: a document read per document returned, at least one per
query)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from google.cloud.firestore_v1.services.firestore import FirestoreClient


@dataclass
class FirestoreMeter:
    commits: list[list[str]] = field(default_factory=list)  # document paths written, per commit
    reads: list[list[str]] = field(default_factory=list)  # document paths asked for, per read
    queries: list[int] = field(default_factory=list)  # documents returned, per query
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _originals: dict[str, Any] = field(default_factory=dict, repr=False)

    def __enter__(self) -> FirestoreMeter:
        meter = self
        commit, batch_get = FirestoreClient.commit, FirestoreClient.batch_get_documents
        run_query = FirestoreClient.run_query
        self._originals = {"commit": commit, "batch_get_documents": batch_get, "run_query": run_query}

        def counted_commit(client: Any, request: Any = None, **kwargs: Any) -> Any:
            writes = (request or {}).get("writes", []) if isinstance(request, dict) else request.writes
            meter._record(meter.commits, [_written_path(w) for w in writes])
            return commit(client, request=request, **kwargs)

        def counted_batch_get(client: Any, request: Any = None, **kwargs: Any) -> Any:
            names = (request or {}).get("documents", []) if isinstance(request, dict) else request.documents
            meter._record(meter.reads, [_short(name) for name in names])
            return batch_get(client, request=request, **kwargs)

        FirestoreClient.commit = counted_commit  # type: ignore[method-assign,assignment]
        FirestoreClient.batch_get_documents = counted_batch_get  # type: ignore[method-assign,assignment]
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        FirestoreClient.commit = self._originals["commit"]  # type: ignore[method-assign]
        FirestoreClient.batch_get_documents = self._originals["batch_get_documents"]  # type: ignore[method-assign]
        FirestoreClient.run_query = self._originals["run_query"]  # type: ignore[method-assign]

    def _record(self, into: list[Any], entry: Any) -> None:
        with self._lock:
            into.append(entry)

    @property
    def document_writes(self) -> int:
        with self._lock:
            return sum(len(c) for c in self.commits)

    @property
    def billed_reads(self) -> int:
        """Documents read by id, plus each query's documents (a query that finds none costs one)."""
        with self._lock:
            return sum(len(r) for r in self.reads) + sum(max(1, n) for n in self.queries)

    def commits_touching(self, document_prefix: str) -> list[list[str]]:
        with self._lock:
            return [c for c in self.commits if any(p.startswith(document_prefix) for p in c)]

    def reads_touching(self, document_prefix: str) -> list[list[str]]:
        with self._lock:
            return [r for r in self.reads if any(p.startswith(document_prefix) for p in r)]


def _written_path(write: Any) -> str:
    if isinstance(write, dict):
        name = (write.get("update") or {}).get("name") or write.get("delete", "")
    else:
        name = write.update.name or write.delete
    return _short(str(name))


def _short(name: str) -> str:
    """projects/p/databases/(default)/documents/imageJobs/x -> imageJobs/x"""
    return name.split("/documents/", 1)[-1]
