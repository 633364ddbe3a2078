"""Hash chains for the audit trail: one rule for the workstation's outbox and the server's log.

Each record carries the hash of the one before it, so a record altered, removed or moved
after the fact breaks every later link, and ``first_break`` names the first record where
the chain no longer holds. The workstation chains its own events (start, heartbeat, end)
before they leave the machine; the district chains everything it stores. Both sides call
the functions here, so a record hashed on one side verifies on the other.

A chain proves order and integrity, not authorship: whoever can rewrite the whole store
can rebuild a consistent chain. That is why ``verify`` reports the head hash for the
district to keep somewhere else (a board minute, a ticket), and why the server checks a
workstation's links as they arrive rather than trusting them later.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# The "previous hash" of a chain's first record.
GENESIS = "0" * 64


def canonical(value: Any) -> bytes:
    """The one byte form of a JSON value that both sides hash: sorted keys, no spaces."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def link_hash(prev: str, seq: int, kind: str, body: Mapping[str, Any]) -> str:
    """The hash of one record: its place (seq), what it is (kind), what it says, and
    the hash of the record before it."""
    return hashlib.sha256(
        canonical({"prev": prev, "seq": seq, "kind": kind, "body": body})
    ).hexdigest()


@dataclass(frozen=True)
class Link:
    """A record's place in its chain, as sent with it: ``chain`` names the chain (a new
    outbox starts a new one), ``seq`` counts from 1, ``prev`` and ``hash`` tie it in."""

    chain: str
    seq: int
    prev: str
    hash: str

    def wire(self) -> dict[str, object]:
        return {"chain": self.chain, "seq": self.seq, "prev": self.prev, "hash": self.hash}


def next_link(chain: str, previous: Link | None, kind: str, body: Mapping[str, Any]) -> Link:
    seq = 1 if previous is None else previous.seq + 1
    prev = GENESIS if previous is None else previous.hash
    return Link(chain, seq, prev, link_hash(prev, seq, kind, body))


@dataclass(frozen=True)
class ChainedRecord:
    """One stored record as ``first_break`` reads it; ``label`` names it for a person."""

    seq: int
    kind: str
    body: Mapping[str, Any]
    prev: str
    hash: str
    label: str = ""


@dataclass(frozen=True)
class ChainBreak:
    seq: int
    label: str
    problem: str

    def __str__(self) -> str:
        return f"record {self.seq}{f' ({self.label})' if self.label else ''}: {self.problem}"


def first_break(
    records: Iterable[ChainedRecord], *, start_seq: int = 1, start_prev: str = GENESIS
) -> ChainBreak | None:
    """The first record, in stored order, where the chain does not hold; None if it holds.

    ``start_seq`` and ``start_prev`` anchor a chain whose oldest records were purged past
    retention: the first kept record must sit at that place and follow that hash.
    """
    expected_seq, expected_prev = start_seq, start_prev
    for record in records:
        if record.seq != expected_seq:
            problem = (
                f"record {expected_seq} is missing (the next stored record is {record.seq})"
                if record.seq > expected_seq
                else f"it is out of order: record {expected_seq} was expected here"
            )
            return ChainBreak(record.seq, record.label, problem)
        if record.prev != expected_prev:
            return ChainBreak(
                record.seq,
                record.label,
                "it does not follow the record before it (its previous-hash differs): "
                "a record before it was replaced, or it was moved",
            )
        if link_hash(record.prev, record.seq, record.kind, record.body) != record.hash:
            return ChainBreak(
                record.seq,
                record.label,
                "its content does not match its hash: it was altered after it was written",
            )
        expected_seq, expected_prev = record.seq + 1, record.hash
    return None


@dataclass(frozen=True)
class LinkProblem:
    """What is wrong with an arriving link, for the district's findings."""

    kind: str  # "altered" | "fork"
    detail: str


def arriving_link_problems(
    link: Link,
    kind: str,
    body: Mapping[str, Any],
    *,
    same_seq: str | None,
    before: str | None,
    after_prev: str | None,
) -> list[LinkProblem]:
    """Check one arriving link against its stored neighbours (hashes), if they arrived.

    Links may arrive out of order (a session's start jumps the backlog), so a missing
    neighbour is not a problem here: gaps are judged later, once delivery had its chance.
    ``same_seq`` is the hash already stored at this seq, ``before`` the hash stored at
    seq - 1, ``after_prev`` the previous-hash stored at seq + 1.
    """
    problems = []
    if link_hash(link.prev, link.seq, kind, body) != link.hash:
        problems.append(
            LinkProblem(
                "altered",
                f"record {link.seq} of chain {link.chain} does not match its own hash: "
                "its content was changed after the workstation wrote it",
            )
        )
    if same_seq is not None and same_seq != link.hash:
        problems.append(
            LinkProblem(
                "fork",
                f"chain {link.chain} has two different records at {link.seq}",
            )
        )
    if before is not None and before != link.prev:
        problems.append(
            LinkProblem(
                "fork",
                f"record {link.seq} of chain {link.chain} does not follow record "
                f"{link.seq - 1} the district holds",
            )
        )
    if after_prev is not None and after_prev != link.hash:
        problems.append(
            LinkProblem(
                "fork",
                f"record {link.seq + 1} of chain {link.chain}, already held, does not follow "
                f"record {link.seq}",
            )
        )
    return problems


def missing_seqs(held: Iterable[int]) -> list[int]:
    """The seqs missing from a chain up to its highest held record (chains start at 1)."""
    seqs = sorted(set(held))
    missing: list[int] = []
    for low, high in zip([0, *seqs], seqs, strict=False):
        missing.extend(range(low + 1, high))
    return missing
