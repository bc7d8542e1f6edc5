"""What the audit trail costs: one ``audit.record`` per request, and ``audit verify``.

Runs Tessera's ``record`` (append + Merkle frontier + Ed25519-signed checkpoint, one
transaction) against a bare baseline in the same run: the same transaction writing
one row of the same size without hashing or signing, so the ratio is the audit
trail's own cost. Also times ``record`` with checkpoints signed every 100 entries,
and a full ``verify`` (entries/s). SQLite by default; ``--db URL`` for PostgreSQL.

    python benchmarks/bench_audit.py --n 2000 [--db postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text

from tessera.app import App, Caller, Role, Settings, audit


def _timed(fn, n: int) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for i in range(n):
        t = time.perf_counter()
        fn(i)
        out.append((time.perf_counter() - t) * 1000)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--db", default=None)
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="bench-audit-"))
    url, schema = args.db, None
    if url and url.startswith("postgresql"):
        # A throw-away schema, dropped at the end: never the database's own tables.
        schema = f"bench_audit_{uuid.uuid4().hex[:10]}"
        with create_engine(url).begin() as c:
            c.execute(text(f'CREATE SCHEMA "{schema}"'))
        url += ("&" if "?" in url else "?") + f"options=-csearch_path%3D{schema}"
    app = App(Settings.for_home(home, database_url=url))
    app.migrate()
    audit.ensure_node_key(app, "bench.example/node")
    caller = Caller(role=Role.ANALYST, user_id=1, email="a@example.org", agency_code="NL-NPU")
    with app.transaction() as s:
        s.execute(text("CREATE TABLE IF NOT EXISTS bench_plain (id INTEGER PRIMARY KEY, v TEXT)"))

    def plain(i: int) -> None:
        with app.transaction() as s:
            s.execute(
                text("INSERT INTO bench_plain (id, v) VALUES (:i, :v)"), {"i": i, "v": "x" * 300}
            )

    def record(i: int) -> None:
        audit.record(app, caller, "lookup", target="pdq", params={"i": i}, result_count=1)

    batch = 100
    caller2 = caller

    def record_batch(i: int) -> None:
        audit.record_batch(
            app, [audit.pending(caller2, "lookup", params={"i": i, "j": j}) for j in range(batch)]
        )

    base = _timed(plain, args.n)
    signed = _timed(record, args.n)
    audit.CHECKPOINT_EVERY = 100
    batched = _timed(record, args.n)
    batches = [t / batch for t in _timed(record_batch, max(1, args.n // batch))]
    t = time.perf_counter()
    r = audit.verify(app, Caller.local_operator())
    verify_s = time.perf_counter() - t
    assert r.ok, r.message
    load = os.getloadavg()[0]
    print(f"backend {app.db.dialect}, n={args.n} per row, load average {load:.1f}")
    print("| what | median ms | p99 ms | ratio to plain insert |")
    print("|---|---|---|---|")
    med0 = statistics.median(base)
    for name, xs in [
        ("plain one-row transaction (baseline)", base),
        ("audit.record, checkpoint signed per entry", signed),
        ("audit.record, checkpoint every 100", batched),
        (f"audit.record_batch of {batch} (one checkpoint), per entry", batches),
    ]:
        p99 = statistics.quantiles(xs, n=100)[98] if len(xs) > 1 else xs[0]
        print(f"| {name} | {statistics.median(xs):.2f} | {p99:.2f} | "
              f"{statistics.median(xs) / med0:.2f}x |")  # fmt: skip
    print(
        f"audit verify: {r.entries} entries, {r.checkpoints_verified} checkpoints in "
        f"{verify_s:.2f} s ({r.entries / verify_s:,.0f} entries/s)"
    )
    app.close()
    if schema is not None:
        with create_engine(args.db).begin() as c:
            c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


if __name__ == "__main__":
    main()
