"""The audit trail through the application layer: recorded in the change's own
transaction, signed by the node key, readable by role, provable (RFC 9162)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pymerkle import InmemoryTree

from tessera.app import App, Caller, Role, accounts, agencies, audit
from tessera.audit import merkle
from tessera.audit.checkpoint import Checkpoint
from tessera.audit.note import Verifier
from tessera.errors import Conflict, PermissionDenied
from tessera.storage import audit_log


@pytest.fixture
def node(app: App) -> App:
    audit.ensure_node_key(app, "test.example/node")
    return app


def _caller(role: Role, agency: str | None = "NL-NPU", email: str = "u@example.org") -> Caller:
    return Caller(role=role, user_id=99, email=email, agency_code=agency)


def test_records_are_signed_and_verify(node: App, caller: Caller) -> None:
    agencies.create(node, caller, "NL-NPU", country="NL", name="VIT")
    for i in range(5):
        audit.record(
            node, _caller(Role.ANALYST), "lookup", target="pdq", params={"q": i}, result_count=i
        )
    r = audit.verify(node, caller)
    assert r.ok and r.entries >= 5 and r.checkpoints_verified == r.entries
    cp = audit.latest_checkpoint(node, caller)
    verifier = Verifier.parse(audit.node_verifier_text(node))
    opened = Checkpoint.open(cp.note, verifier)
    assert (opened.size, opened.root.hex()) == (r.entries, r.root)
    assert opened.origin == "test.example/node/audit"


def test_entry_fields_and_params_only_as_digest(node: App) -> None:
    c = _caller(Role.ANALYST)
    e = audit.record(
        node,
        c,
        "lookup",
        target="md5",
        series="Amber",
        params={"hashes": ["d41d8cd98f00b204e9800998ecf8427e"]},
        result_count=2,
    )
    shown = audit.show(node, Caller.local_operator())
    assert shown[-1] == e
    assert (e.user, e.agency, e.role, e.action, e.series, e.result_count, e.request_id) == (
        "u@example.org",
        "NL-NPU",
        "analyst",
        "lookup",
        "Amber",
        2,
        c.request_id,
    )
    assert "d41d8cd9" not in e.model_dump_json()
    assert len(e.params_digest) == 64


def test_failed_change_leaves_no_entry(node: App, caller: Caller) -> None:
    agencies.create(node, caller, "NL-NPU", country="NL", name="VIT")
    before = audit.verify(node, caller).entries
    with pytest.raises(Conflict):
        accounts.create_user(
            node,
            caller,
            "a@example.org",
            agency="NL-NPU",
            role="viewer",
            password="long enough password",
        )
        accounts.create_user(
            node,
            caller,
            "a@example.org",
            agency="NL-NPU",
            role="viewer",
            password="long enough password",
        )
    # the first create and its entry committed together; the failed one left nothing
    assert audit.verify(node, caller).entries == before + 1


def test_show_filters_and_visibility(node: App) -> None:
    op = Caller.local_operator()
    t0 = datetime.now(UTC)
    audit.record(node, _caller(Role.ANALYST, "NL-NPU", "a@nl.example"), "series.show", series="A")
    audit.record(node, _caller(Role.ANALYST, "DE-BKA", "b@de.example"), "series.show", series="B")
    audit.record(node, _caller(Role.VIEWER, "NL-NPU", "c@nl.example"), "lookup")
    assert [e.user for e in audit.show(node, op, series="A")] == ["a@nl.example"]
    assert [e.series for e in audit.show(node, op, user="B@DE.example")] == ["B"]
    assert len(audit.show(node, op, since=t0 - timedelta(seconds=5))) == 3
    assert audit.show(node, op, since=t0 + timedelta(days=1)) == []
    curator = _caller(Role.CURATOR, "NL-NPU", "cur@nl.example")
    assert {e.agency for e in audit.show(node, curator)} == {"NL-NPU"}
    for role in (Role.VIEWER, Role.ANALYST):
        with pytest.raises(PermissionDenied):
            audit.show(node, _caller(role))
    with pytest.raises(PermissionDenied):
        audit.verify(node, curator)


def test_proofs_match_pymerkle_and_verify(node: App) -> None:
    op = Caller.local_operator()
    for i in range(11):
        audit.record(node, op, "lookup", params={"i": i})
    with node.transaction() as s:
        stored = list(audit_log.iter_stored(s))
    oracle = InmemoryTree(algorithm="sha256")
    for e in stored:
        oracle.append_entry(e.record.leaf_bytes())
    size = len(stored)
    assert oracle.get_root(size).hex() == audit.verify(node, op).root
    for seq in (1, 6, size):
        p = audit.prove_inclusion(node, op, seq, size)
        assert [bytes.fromhex(h) for h in p.path] == oracle.prove_inclusion(seq, size).path[1:]
        merkle.verify_inclusion(
            seq - 1,
            size,
            bytes.fromhex(p.leaf_hash),
            [bytes.fromhex(h) for h in p.path],
            oracle.get_root(size),
        )
    c = audit.prove_consistency(node, op, 4, size)
    merkle.verify_consistency(
        4, size, oracle.get_root(4), oracle.get_root(size), [bytes.fromhex(h) for h in c.path]
    )


def test_parse_since() -> None:
    assert audit.parse_since("2026-12-01") == datetime(2026, 12, 1, tzinfo=UTC)
    assert audit.parse_since("2026-12-01T10:00:00+01:00") == datetime(2026, 12, 1, 9, tzinfo=UTC)
    with pytest.raises(audit.InvalidInput):
        audit.parse_since("yesterday")


def test_without_a_node_key_entries_chain_but_are_unsigned(app: App) -> None:
    op = Caller.local_operator()
    audit.record(app, op, "lookup")
    r = audit.verify(app, op)
    assert r.ok and r.entries == 1 and r.checkpoints_verified == 0
    assert any("no key" in n for n in r.notes)


def test_concurrent_writers_get_one_unbroken_chain(node: App) -> None:
    """Four threads append at once: consecutive sequence numbers, every checkpoint
    verifies, nothing lost (the audit_head row serialises appends on both backends)."""
    import threading

    errors: list[BaseException] = []

    def worker(k: int) -> None:
        try:
            for i in range(15):
                audit.record(
                    node,
                    _caller(Role.ANALYST, email=f"w{k}@example.org"),
                    "lookup",
                    params={"k": k, "i": i},
                )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    op = Caller.local_operator()
    r = audit.verify(node, op)
    assert r.ok, r.message
    assert r.entries == 60 and r.checkpoints_verified == 60
    seen = audit.show(node, op)
    assert [e.seq for e in seen] == list(range(1, 61))
    assert {e.user for e in seen} == {f"w{k}@example.org" for k in range(4)}


def test_a_checkpoint_kept_outside_catches_a_consistent_cut(node: App) -> None:
    """Entries, checkpoints and head all cut back to 4: invisible from inside the
    database, caught by the checkpoint of size 7 saved before."""
    from sqlalchemy import text

    op = Caller.local_operator()
    for i in range(7):
        audit.record(node, op, "lookup", params={"i": i})
    kept = audit.latest_checkpoint(node, op).note
    with node.transaction() as s:
        head4 = audit_log.root_at(s, 4)
        hashes = audit_log.leaf_hashes(s, 4)
    frontier = merkle.Frontier()
    for h in hashes:
        frontier.append(h)
    assert frontier.root() == head4
    db = node.db
    with db.engine.begin() as c:
        if db.dialect == "postgresql":
            c.execute(text("DROP TRIGGER audit_entry_append_only ON audit_entry"))
            c.execute(text("DROP TRIGGER audit_checkpoint_append_only ON audit_checkpoint"))
        else:
            for t in ("audit_entry", "audit_checkpoint"):
                for v in ("update", "delete"):
                    c.execute(text(f"DROP TRIGGER {t}_no_{v}"))
        c.execute(text("DELETE FROM audit_entry WHERE seq > 4"))
        c.execute(text("DELETE FROM audit_checkpoint WHERE size > 4"))
        state = ",".join(f"{h}:{d.hex()}" for h, d in frontier.state())
        c.execute(
            text("UPDATE audit_head SET size = 4, checkpoint_size = 4, frontier = :f"),
            {"f": state},
        )
    assert audit.verify(node, op).ok  # nothing to see from inside
    r = audit.verify(node, op, trusted=kept)
    assert (r.ok, r.broken_at, r.problem) == (False, 5, "truncated")
    # A checkpoint of another node's key is refused, not silently accepted.
    other = Checkpoint("test.example/node/audit", 4, head4 or b"").sign(
        audit.Signer.generate("test.example/node")
    )
    with pytest.raises(audit.InvalidInput):
        audit.verify(node, op, trusted=other)


def test_batches_append_in_order_with_one_checkpoint(node: App) -> None:
    op = Caller.local_operator()
    audit.record(node, op, "before")
    drafts = [
        audit.pending(
            _caller(Role.ANALYST, email=f"b{i}@example.org"),
            "lookup",
            params={"i": i},
            result_count=i,
        )
        for i in range(50)
    ]
    views = audit.record_batch(node, drafts)
    assert [v.seq for v in views] == list(range(2, 52))
    assert [v.user for v in views] == [f"b{i}@example.org" for i in range(50)]
    audit.record(node, op, "after")
    r = audit.verify(node, op)
    assert r.ok and r.entries == 52
    assert r.checkpoints_verified == 3  # entry 1, the batch (51), entry 52
    assert audit.record_batch(node, []) == []
