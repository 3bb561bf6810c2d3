"""CloudWatch embedded metric format read back from what a function printed: the unit tests read
a handler's standard output, the e2e tests the local stack's log files."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, NamedTuple


class Publication(NamedTuple):
    """One metric as one EMF document declares it."""

    namespace: str
    dimensions: list[list[str]]
    unit: str
    values: Any
    document: dict[str, Any]


def emf_documents(lines: Iterable[str]) -> list[dict[str, Any]]:
    """The embedded-metric-format documents among a function's output lines."""
    documents = []
    for line in lines:
        if line.startswith("{"):
            document = json.loads(line)
            if "_aws" in document:
                documents.append(document)
    return documents


def publications(documents: list[dict[str, Any]], metric: str) -> list[Publication]:
    """Each publication of `metric`, in order."""
    return [
        Publication(directive["Namespace"], directive["Dimensions"], declared["Unit"], document[metric], document)
        for document in documents
        for directive in document["_aws"]["CloudWatchMetrics"]
        for declared in directive["Metrics"]
        if declared["Name"] == metric
    ]


def dimension_names(documents: list[dict[str, Any]]) -> set[str]:
    """Every dimension any document declares."""
    return {
        name
        for document in documents
        for directive in document["_aws"]["CloudWatchMetrics"]
        for dimension_set in directive["Dimensions"]
        for name in dimension_set
    }
