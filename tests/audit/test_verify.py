"""verify_log over in-memory logs: any single edit, deletion, swap or truncation is
found, and the first entry it names is the one that was touched (property-tested)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from tessera.audit.checkpoint import Checkpoint
from tessera.audit.entry import AuditRecord, params_digest
from tessera.audit.merkle import Frontier
from tessera.audit.note import Signer
from tessera.audit.verify import StoredCheckpoint, StoredEntry, verify_log

SIGNER = Signer.generate("test.example/node")
ORIGIN = "test.example/node/audit"
T0 = datetime(2026, 12, 1, tzinfo=UTC)


def build(n: int, every: int) -> tuple[list[StoredEntry], list[StoredCheckpoint]]:
    entries, cps, f = [], [], Frontier()
    for i in range(1, n + 1):
        rec = AuditRecord(
            seq=i,
            at=T0 + timedelta(seconds=i),
            user=f"u{i % 3}@example.org",
            agency="NL",
            role="analyst",
            action="lookup",
            target=None,
            series=None,
            params_digest=params_digest({"i": i}),
            result_count=i,
            request_id=f"r{i}",
        )
        f.append(rec.leaf_hash())
        entries.append(StoredEntry(rec, rec.leaf_hash(), f.root()))
        if i % every == 0 or i == n:
            cps.append(StoredCheckpoint(i, f.root(), Checkpoint(ORIGIN, i, f.root()).sign(SIGNER)))
    return entries, cps


def check(entries: list[StoredEntry], cps: list[StoredCheckpoint], head: int):  # type: ignore[no-untyped-def]
    return verify_log(entries, cps, SIGNER.verifier, origin=ORIGIN, head_size=head)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 30), st.integers(1, 5))
def test_untouched_logs_verify(n: int, every: int) -> None:
    entries, cps = build(n, every)
    r = check(entries, cps, n)
    assert r.ok and r.entries == n and r.checkpoints == len(cps)


@settings(max_examples=80, deadline=None)
@given(st.integers(2, 30), st.integers(1, 5), st.data())
def test_any_single_tampering_is_named(n: int, every: int, data: st.DataObject) -> None:
    entries, cps = build(n, every)
    kind = data.draw(st.sampled_from(["edit", "edit-rehash", "delete", "swap", "truncate"]))
    k = data.draw(st.integers(0, n - 1))
    if kind == "edit":
        e = entries[k]
        entries[k] = replace(e, record=replace(e.record, result_count=-1))
        want = k + 1
    elif kind == "edit-rehash":  # the leaf recomputed too; the stored root chain breaks
        e = entries[k]
        rec = replace(e.record, action="nothing")
        entries[k] = replace(e, record=rec, leaf_hash=rec.leaf_hash())
        want = k + 1
    elif kind == "delete":
        del entries[k]
        want = k + 1
    elif kind == "swap":
        j = data.draw(st.integers(0, n - 1).filter(lambda j: j != k))
        entries[k], entries[j] = entries[j], entries[k]
        want = min(k, j) + 1
    else:
        entries = entries[:k]
        want = k + 1
    r = check(entries, cps, n)
    assert not r.ok
    assert r.broken is not None and r.broken.seq == want, (kind, r.broken)


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 30), st.integers(1, 5), st.data())
def test_a_consistent_rewrite_is_caught_by_the_next_signature(
    n: int, every: int, data: st.DataObject
) -> None:
    entries, cps = build(n, every)
    k = data.draw(st.integers(0, n - 1))
    f, forged = Frontier(), []
    for i, e in enumerate(entries):
        rec = replace(e.record, result_count=0) if i == k else e.record
        f.append(rec.leaf_hash())
        forged.append(StoredEntry(rec, rec.leaf_hash(), f.root()))
    r = check(forged, cps, n)
    assert r.broken is not None and r.broken.kind == "rewritten"
    # Named: the first entry after the last checkpoint that still verifies.
    last_good = max((c.size for c in cps if c.size <= k), default=0)
    assert r.broken.seq == last_good + 1 <= k + 1
