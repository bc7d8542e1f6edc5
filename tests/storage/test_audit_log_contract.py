"""Audit log rows on SQLite and PostgreSQL: appends chain, triggers refuse edits,
and every kind of tampering with raw SQL is found and named by ``verify_log``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tessera.audit import merkle
from tessera.audit.checkpoint import Checkpoint
from tessera.audit.entry import params_digest
from tessera.audit.note import Signer
from tessera.audit.verify import verify_log
from tessera.storage import audit_log
from tessera.storage.db import Database

ORIGIN = "test.example/audit"
T0 = datetime(2026, 12, 1, 9, 30, 0, 123456, tzinfo=UTC)


def _append(db: Database, signer: Signer, n: int, *, sign_every: int = 1) -> None:
    for i in range(n):
        with db.session() as s:
            audit_log.append(
                s,
                audit_log.NewEntry(
                    at=T0 + timedelta(seconds=i),
                    user=f"user{i % 3}@example.org",
                    agency="NL-NPU",
                    role="analyst",
                    action="series.show",
                    target=f"series:S{i % 2}",
                    series=f"S{i % 2}",
                    params_digest=params_digest({"i": i}),
                    result_count=i,
                    request_id=f"req-{i}",
                ),
                sign=lambda size, root: Checkpoint(ORIGIN, size, root).sign(signer),
                every=sign_every,
            )


def _verify(db: Database, signer: Signer) -> object:
    with db.session() as s:
        return verify_log(
            audit_log.iter_stored(s, batch=3),
            audit_log.checkpoints(s),
            signer.verifier,
            origin=ORIGIN,
            head_size=audit_log.head(s).size,
        )


def _untrigger(db: Database) -> None:
    """What an attacker with database access does first: drop the append-only guard."""
    with db.engine.begin() as c:
        if db.dialect == "postgresql":
            c.execute(text("DROP TRIGGER audit_entry_append_only ON audit_entry"))
            c.execute(text("DROP TRIGGER audit_checkpoint_append_only ON audit_checkpoint"))
        else:
            for t in ("audit_entry", "audit_checkpoint"):
                for v in ("update", "delete"):
                    c.execute(text(f"DROP TRIGGER {t}_no_{v}"))


@pytest.fixture
def signer() -> Signer:
    return Signer.generate("test.example/node")


def test_appends_chain_and_verify(db: Database, signer: Signer) -> None:
    _append(db, signer, 9)
    report = _verify(db, signer)
    assert report.ok, report.broken  # type: ignore[attr-defined]
    with db.session() as s:
        hashes = audit_log.leaf_hashes(s, 9)
        assert audit_log.head(s).root == merkle.root_of(hashes)
        assert audit_log.root_at(s, 5) == merkle.root_of(hashes[:5])
        assert [r.seq for r in audit_log.find(s, series="S1")] == [2, 4, 6, 8]
        assert len(audit_log.find(s, user="user0@example.org")) == 3
        assert len(audit_log.find(s, since=T0 + timedelta(seconds=7))) == 2
    assert report.checkpoints == 9  # type: ignore[attr-defined]


def test_triggers_refuse_update_and_delete(db: Database, signer: Signer) -> None:
    _append(db, signer, 2)
    for sql in (
        "UPDATE audit_entry SET action = 'x' WHERE seq = 1",
        "DELETE FROM audit_entry WHERE seq = 2",
        "DELETE FROM audit_checkpoint",
    ):
        with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as c:
            c.execute(text(sql))


TAMPER = {
    "edit": ("edited", 4, ["UPDATE audit_entry SET result_count = 999 WHERE seq = 4"]),
    "edit-time": (
        "edited",
        2,
        ["UPDATE audit_entry SET at = (SELECT at FROM audit_entry WHERE seq = 1) WHERE seq = 2"],
    ),
    "delete": ("deleted", 5, ["DELETE FROM audit_entry WHERE seq = 5"]),
    "reorder": (
        "edited",
        3,
        [
            "UPDATE audit_entry SET seq = -1 WHERE seq = 3",
            "UPDATE audit_entry SET seq = 3 WHERE seq = 6",
            "UPDATE audit_entry SET seq = 6 WHERE seq = -1",
        ],
    ),
    "truncate": ("truncated", 7, ["DELETE FROM audit_entry WHERE seq >= 7"]),
    "truncate-with-checkpoints": (
        "truncated",
        7,
        ["DELETE FROM audit_entry WHERE seq >= 7", "DELETE FROM audit_checkpoint WHERE size >= 7"],
    ),
    "forge-checkpoint": (
        "bad-signature",
        8,
        ["UPDATE audit_checkpoint SET note = replace(note, 'audit', 'audiT') WHERE size = 8"],
    ),
}


@pytest.mark.parametrize("kind", sorted(TAMPER))
def test_tampering_is_found_and_named(db: Database, signer: Signer, kind: str) -> None:
    want_kind, want_seq, statements = TAMPER[kind]
    _append(db, signer, 9)
    _untrigger(db)
    with db.engine.begin() as c:
        for sql in statements:
            c.execute(text(sql))
    report = _verify(db, signer)
    assert report.broken is not None  # type: ignore[attr-defined]
    assert (report.broken.kind, report.broken.seq) == (want_kind, want_seq)  # type: ignore[attr-defined]


def test_rewrite_with_recomputed_hashes_is_caught_by_the_signature(
    db: Database, signer: Signer
) -> None:
    """The attacker edits entry 4 and recomputes every leaf hash and root after it."""
    _append(db, signer, 6, sign_every=3)
    _untrigger(db)
    with db.session() as s:
        stored = list(audit_log.iter_stored(s))
    forged = merkle.Frontier()
    with db.engine.begin() as c:
        for e in stored:
            rec = e.record
            if rec.seq == 4:
                rec = type(rec)(**{**rec.__dict__, "result_count": 0})
                c.execute(text("UPDATE audit_entry SET result_count = 0 WHERE seq = 4"))
            forged.append(rec.leaf_hash())
            c.execute(
                text("UPDATE audit_entry SET leaf_hash = :l, root = :r WHERE seq = :s"),
                {"l": rec.leaf_hash(), "r": forged.root(), "s": rec.seq},
            )
    report = _verify(db, signer)
    assert report.broken is not None  # type: ignore[attr-defined]
    # Checkpoints at 3 and 6: entries 4-6 no longer match the one signed at 6.
    assert (report.broken.kind, report.broken.seq) == ("rewritten", 4)  # type: ignore[attr-defined]
    assert "entries 4-6" in report.broken.message  # type: ignore[attr-defined]
