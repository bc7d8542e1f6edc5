"""Federation at scale: N shared hashes with series metadata, hub -> fresh node on loopback.

One run, same records for every row:

* ``hub accept``         the hub accepting the origin's signed deltas (20,000 records
                          each: signature, checksums, log leaf + signed checkpoint,
                          records stored), in-process: this is how the hub is seeded;
* ``fed full pull``      a fresh node's ``tessera sync`` (``client.federation.sync``)
                          against a real ``tessera serve --hub`` process on 127.0.0.1:
                          checkpoint + consistency proof, signed feed pages of 50,000
                          records over HTTP, each verified and applied (hash-only media,
                          series, grants, fed records) with its cursor in one transaction;
* ``baseline import``    the plain exchange path for the same records: a Tessera bundle
                          file (``exchange.bundle``) imported into a fresh node with
                          ``tessera.app.exchange.import_file`` (no network, no signature,
                          no federation bookkeeping);
* ``fed incremental``    1,000 changes (500 new records, 500 changed PDQs) accepted by
                          the hub, then the node's sync; median of ``--repeat`` rounds.

Targets (issue 15): full pull of 1M <= 60 s, incremental 1,000 <= 2 s.

Usage: ``python benchmarks/bench_federation.py [--records 1000000] [--series 100]
[--repeat 3] [--keep DIR] [--hub DIR] [--no-baseline]``; ``--records 100000`` for a
quick run. The baseline runs last, so a run stopped there still has the federation
figures. ``--hub DIR`` keeps a copy of the freshly seeded hub (and the origin's key) in
DIR, and a later run with the same records starts from a copy of it: A/B runs then
skip seeding (``hub accept`` reads "reused"); the kept hub itself never changes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from tessera.app import App, Caller, Settings, audit
from tessera.app.exchange import import_file
from tessera.app.federation import hub as fed_hub
from tessera.app.federation import peers, share
from tessera.audit.note import Signer
from tessera.client.federation import sync
from tessera.exchange import bundle, delta
from tessera.exchange.delta import MEDIA, SERIES, WireRecord
from tessera.exchange.model import ExchangeRecord
from tessera.storage import repo

OP = Caller.local_operator()
ORIGIN = "bench-origin.test"


def _cpu_of(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _app(home: Path, name: str) -> App:
    home.mkdir(parents=True)
    app = App(Settings.for_home(home))
    app.migrate()
    audit.ensure_node_key(app, name)
    return app


def _hashes(n: int, seed: int) -> tuple[list[str], list[str]]:
    rng = np.random.default_rng(seed)
    sha = rng.integers(0, 256, size=(n, 32), dtype=np.uint8)
    pdq = rng.integers(0, 256, size=(n, 32), dtype=np.uint8)
    return [bytes(r).hex() for r in sha], [bytes(r).hex() for r in pdq]


def _series(n_series: int, version: int = 1) -> list[WireRecord]:
    out = []
    for i in range(n_series):
        key = f"s{i + 1}"
        payload = {
            "level": "status",
            "owner": {"code": "NL-BENCH", "country": "NL", "contact": "vid@bench.example"},
            "name": f"Bench series {i + 1}",
            "victim_identified": i % 3 == 0,
            "category": 1 + i % 3,
        }
        out.append(WireRecord(ORIGIN, key, SERIES, key, version, False, payload))
    return out


def _media(i: int, sha: str, pdq: str, n_series: int, version: int = 1) -> WireRecord:
    key = f"s{i % n_series + 1}"
    return WireRecord(
        ORIGIN,
        f"{key}m{i}",
        MEDIA,
        key,
        version,
        False,
        {"sha256": sha, "pdq": pdq, "kind": "image"},
    )


def seed_hub(hub: App, origin: Signer, n: int, n_series: int) -> tuple[float, int]:
    sha, pdq = _hashes(n, 1)
    t = time.perf_counter()
    no = 0
    step = share.MAX_DELTA_RECORDS
    for lo in range(0, n, step):
        no += 1
        body = delta.write(
            "federation-delta",
            origin,
            _series(n_series) if lo == 0 else [],
            [_media(i, sha[i], pdq[i], n_series) for i in range(lo, min(n, lo + step))],
            header={"delta_no": no},
        )
        fed_hub.accept_delta(hub, body)
    return time.perf_counter() - t, no


def kept_hub(path: Path, home: Path, n: int, n_series: int) -> tuple[App, Signer, int] | None:
    """A copy in ``home`` of the hub seeded before in ``path`` with the same records:
    (hub, origin key, the seed's deltas); None when there is none."""
    try:
        seed = json.loads((path / "seed.json").read_text())
    except FileNotFoundError:
        return None
    if (seed["records"], seed["series"]) != (n, n_series):
        raise SystemExit(f"{path} holds a hub of {seed['records']:,} records: another --hub DIR")
    shutil.copytree(path / "hub", home)
    hub = App(Settings.for_home(home))
    hub.migrate()
    peers.remove_peer(hub, OP, "node")
    return hub, Signer.parse((path / "origin.key").read_text()), int(seed["deltas"])


def keep_hub(path: Path, home: Path, origin: Signer, seed: dict[str, int]) -> None:
    """Copy the freshly seeded hub (idle, its WAL with it) into ``path`` for later runs."""
    path.mkdir(parents=True, exist_ok=True)
    shutil.copytree(home, path / "hub")
    (path / "origin.key").write_text(origin.text())
    (path / "seed.json").write_text(json.dumps(seed))


def baseline(home: Path, n: int, n_series: int) -> tuple[float, float]:
    app = _app(home, "bench-baseline.test")
    with app.transaction() as s:
        repo.create_agency(s, "NL-BENCH", "NL", "Bench unit", "vid@bench.example")
    sha, pdq = _hashes(n, 1)
    path = home / "same-records.bundle"
    with path.open("w", encoding="utf-8") as out:
        bundle.write(
            (
                ExchangeRecord.model_construct(
                    sha256=sha[i],
                    pdq=pdq[i],
                    kind="image",
                    series=f"Bench series {i % n_series + 1}",
                    category=1 + (i % n_series) % 3,
                    victim_identified=(i % n_series) % 3 == 0 or None,
                )
                for i in range(n)
            ),
            out,
        )
    t, c = time.perf_counter(), time.process_time()
    summary = import_file(app, OP, "bundle", path, agency_code="NL-BENCH")
    took, cpu = time.perf_counter() - t, time.process_time() - c
    assert summary.records == n, summary
    app.close()
    return took, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--series", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--keep", type=Path)
    ap.add_argument("--hub", type=Path, help="keep the seeded hub here and reuse it")
    ap.add_argument("--no-baseline", action="store_true", help="skip the bundle-import row")
    args = ap.parse_args()
    root = Path(args.keep or tempfile.mkdtemp(prefix="bench-fed-"))
    n, n_series = args.records, args.series
    print(f"federation benchmark: {n:,} records in {n_series} series, homes under {root}")
    print(f"  load average before: {_load()} (wall times include waiting for a CPU)")

    hub_home = root / "hub"
    kept = kept_hub(args.hub, hub_home, n, n_series) if args.hub else None
    if kept is not None:
        hub, origin, deltas = kept
    else:
        hub = _app(hub_home, "bench-hub.test")
        origin = Signer.generate(ORIGIN)
        peers.add_peer(hub, OP, "origin", "http://127.0.0.1:1", origin.verifier.text())
    node = _app(root / "node", "bench-node.test")
    peers.add_peer(hub, OP, "node", "http://127.0.0.1:1", peers.signer_of(node).verifier.text())
    if kept is not None:
        print(f"  hub accept        reused: a copy of {args.hub} ({deltas} signed deltas)")
    else:
        accept_s, deltas = seed_hub(hub, origin, n, n_series)
        print(
            f"  hub accept        {accept_s:8.2f} s  "
            f"({deltas} signed deltas, {n / accept_s:,.0f} rec/s; load {_load()})"
        )
        if args.hub:
            seed = {"records": n, "series": n_series, "deltas": deltas}
            keep_hub(args.hub, hub_home, origin, seed)

    port = _free_port()
    env = {**os.environ, "TESSERA_HOME": str(hub_home)}
    env.pop("TESSERA_DATABASE_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tessera.cli.main", "serve", "--hub", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        import httpx

        deadline = time.monotonic() + 120
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/status", timeout=2)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise SystemExit("hub did not start") from None
                time.sleep(0.2)
        hub_key = peers.signer_of(hub).verifier.text()
        peers.add_peer(node, OP, "hub", f"http://127.0.0.1:{port}", hub_key)
        t, c, h = time.perf_counter(), time.process_time(), _cpu_of(proc.pid)
        tt = time.thread_time()
        report = sync(node, OP)
        full_s, node_cpu = time.perf_counter() - t, time.process_time() - c
        main_cpu = time.thread_time() - tt
        hub_cpu = _cpu_of(proc.pid) - h
        assert report.applied == n + n_series, report
        print(
            f"  fed full pull     {full_s:8.2f} s  ({report.pages} pages, "
            f"{n / full_s:,.0f} rec/s; target <= 60 s for 1M"
            + ("" if n >= 1_000_000 else f", this rate gives {1e6 / n * full_s:.0f} s for 1M")
            + f"; load {_load()})\n"
            f"                    CPU: node {node_cpu:.2f} s ({n / node_cpu:,.0f} rec/CPU-s, "
            f"{node_cpu / n * 1e6:.1f} us a record), hub server {hub_cpu:.2f} s "
            f"({hub_cpu / n * 1e6:.1f} us a record)\n"
            f"                    node's applying thread {main_cpu:.2f} s "
            f"({main_cpu / n * 1e6:.1f} us a record: the wall time's floor on an idle "
            "machine; the fetch thread and the hub run beside it)"
        )

        times: list[float] = []
        cpus: list[tuple[float, float]] = []
        sha_new, pdq_new = _hashes(args.repeat * 500, 7)
        _, pdq_changed = _hashes(args.repeat * 500, 9)
        sha_all, _ = _hashes(n, 1)
        for r in range(args.repeat):
            changes = [
                _media(n + r * 500 + j, sha_new[r * 500 + j], pdq_new[r * 500 + j], n_series)
                for j in range(500)
            ]
            changes += [
                _media(i, "", "", n_series, version=2 + r) for i in range(r * 500, r * 500 + 500)
            ]
            changes[500:] = [
                WireRecord(
                    ORIGIN,
                    c.origin_id,
                    MEDIA,
                    c.series_key,
                    c.version,
                    False,
                    {
                        "sha256": sha_all[r * 500 + j],
                        "pdq": pdq_changed[r * 500 + j],
                        "kind": "image",
                    },
                )
                for j, c in enumerate(changes[500:])
            ]
            body = delta.write(
                "federation-delta", origin, [], changes, header={"delta_no": deltas + r + 1}
            )
            fed_hub.accept_delta(hub, body)
            t, c, h = time.perf_counter(), time.process_time(), _cpu_of(proc.pid)
            rep = sync(node, OP)
            times.append(time.perf_counter() - t)
            cpus.append((time.process_time() - c, _cpu_of(proc.pid) - h))
            assert rep.applied == 1000, rep
        print(
            f"  fed incremental   {statistics.median(times):8.3f} s  median of {len(times)} "
            f"(1,000 changes: {', '.join(f'{x:.3f}' for x in times)}; target <= 2 s; "
            f"load {_load()})\n"
            f"                    CPU node/hub: "
            f"{', '.join(f'{a:.2f}/{b:.2f}' for a, b in cpus)} s"
        )
        # the baseline last: on a slow machine a bounded run still has both federation
        # figures (the baseline uses its own home and the same records)
        if not args.no_baseline:
            base_s, base_cpu = baseline(root / "baseline", n, n_series)
            print(
                f"  baseline import   {base_s:8.2f} s  (bundle file, import_file; "
                f"CPU {base_cpu:.2f} s, {n / base_cpu:,.0f} rec/CPU-s; load {_load()})"
            )
            print(
                f"  ratio fed/baseline {full_s / base_s:6.2f} wall, "
                f"{node_cpu / base_cpu:.2f} node CPU / baseline CPU"
            )
        print(f"  load average after: {_load()}")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        hub.close()
        node.close()
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
