"""Case records at a sync with nothing changed (issue 15 item 6): a node with C cases
of F unclassified files each, after its first sync.

One run, same database, rounds alternated:

* ``tessera``   ``federation.cases.records(s, origin, sent)``: each case's fingerprint
                (its payload but the tokens, and its files' SHA-256, hashed once)
                compared with ``fed_sent``; tokens only for a changed case;
* ``baseline``  what a sync did before: every case's record with all its tokens
                (SHA-256 of each file's SHA-256) and the record's digest;

then the whole ``federation.prepare`` with no change (SQL of own cases and series
included), CPU and wall medians. Usage: ``python benchmarks/bench_federation_cases.py
[--cases 20] [--files 500] [--repeat 7]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.seeding import seed

from tessera.app import App, Caller, Settings, audit
from tessera.app.federation import cases as fc
from tessera.app.federation import peers, share
from tessera.audit.note import Signer
from tessera.storage import repo
from tessera.storage.federation import shared as shared_store

OP = Caller.local_operator()


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def _node(home: Path, cases: int, files: int) -> App:
    home.mkdir()
    app = App(Settings.for_home(home))
    app.migrate()
    audit.ensure_node_key(app, "bench-node.test")
    # a hub peer (never reached: prepare writes the outbox only)
    hub = Signer.generate("bench-hub.test").verifier.text()
    peers.add_peer(app, OP, "hub", "http://127.0.0.1:1", hub)
    with app.transaction() as s:
        repo.create_agency(s, "NL-A", "NL", "Unit A", "vid@a.example")
    for c in range(cases):
        items: list[tuple[bytes, str | None]] = [(f"c{c}-{i}".encode(), None) for i in range(files)]
        seed(app.db, items, agency="NL-A", series=None, case=f"NL-{c}")
    first = share.prepare(app, OP)
    assert first.new_records == cases, first
    return app


def _time(fn: Callable[[], object]) -> tuple[float, float]:
    w, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w, time.process_time() - c


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", type=int, default=20)
    ap.add_argument("--files", type=int, default=500)
    ap.add_argument("--repeat", type=int, default=7)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        app = _node(Path(tmp) / "node", a.cases, a.files)
        origin = peers.signer_of(app).name

        def tessera() -> None:
            with app.transaction() as s:
                got = fc.records(s, origin, shared_store.sent_state(s))
                assert len(got) == a.cases and all(r is None for _, r in got.values())

        def baseline() -> None:
            with app.transaction() as s:
                shared_store.sent_state(s)
                got = fc.records(s, origin)
                assert [r.digest() for _, r in got.values() if r is not None]

        def prepare() -> None:
            assert share.prepare(app, OP).new_records == 0

        rows: dict[str, list[tuple[float, float]]] = {"tessera": [], "baseline": [], "prepare": []}
        for _ in range(a.repeat):
            rows["tessera"].append(_time(tessera))
            rows["baseline"].append(_time(baseline))
            rows["prepare"].append(_time(prepare))
        app.close()
    print(f"{a.cases} cases x {a.files} files, {a.repeat} rounds, load {_load()}")
    med = {
        k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v))
        for k, v in rows.items()
    }
    for k, (w, c) in med.items():
        print(f"  {k:<9} wall {w * 1000:8.1f} ms  cpu {c * 1000:8.1f} ms  (medians)")
    (tw, tc), (bw, bc) = med["tessera"], med["baseline"]
    print(f"  case records, baseline/tessera: wall {bw / tw:.2f}x, cpu {bc / tc:.2f}x")


if __name__ == "__main__":
    main()
