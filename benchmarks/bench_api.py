"""The network service under load: lookups per second, latency, batches, freshness.

Builds (or reuses) a home with ``--n`` random PDQ hashes in one series, starts a
real ``tessera serve --workers W`` on 127.0.0.1, and drives it from a separate
load-generator process on the same machine (asyncio + httpx):

1. single PDQ lookups (``GET /api/v1/lookup``), ``--concurrency`` in flight:
   requests/s, p50/p99 (target: >= 1,000 req/s at p99 <= 50 ms at 10M), then the
   misses alone and the hits alone (near copies) of the same queries, and the
   same mix through HMA's ``GET /m/lookup`` (what HMA's clients ask);
2. batch lookups (``POST /api/v1/lookup``, 1,000 hashes each): hashes/s
   (target >= 20,000), PDQ (each hash a radius-31 search of the index) and then
   MD5 (exact digests, half of them stored) as a separate figure;
3. ``--clients`` concurrent clients (default 50) for ``--soak`` seconds: errors
   (target 0);
4. lookups while a bulk import commits ``--import-rows`` new hashes: p99 (target
   <= 100 ms), and how long a committed hash takes to be found;
5. the audit trail's share: one audited lookup entry, timed in process, against
   the mean request time.

Baselines printed beside: the same index searched in process (no HTTP), and HMA's
field figure (one adopter: 450-500 req/s on 10 pods).

    python benchmarks/bench_api.py --n 1000000            # development size
    python benchmarks/bench_api.py --n 10000000 --home /tmp/bench10m   # the target
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

HMA_FIELD = "HMA field report: 450-500 req/s on 10 pods (one adopter, GitHub issue thread)"
BATCH = 1_000


# -- data ----------------------------------------------------------------------------


def _random_codes(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, 256, size=(n, 32), dtype=np.uint8)


def build_home(home: Path, n: int, seed: int = 1) -> None:
    """A migrated home with ``n`` media, each with one random PDQ, all in one series.

    The bulk path (10M in minutes, not hours): the schema comes from the migrations,
    the rows go in through SQLite's own ``executemany`` in 500k-row transactions with
    the secondary indexes dropped meanwhile and recreated after (a sorted build instead
    of 10M random B-tree inserts), then the PDQ index is built once from the rows.
    """
    from sqlalchemy import func, select

    from tessera.app import App, Caller, Settings
    from tessera.app.accounts import create_user
    from tessera.matching.pdq_store import PdqStore
    from tessera.storage import repo
    from tessera.storage.models import FingerprintModel, Media

    settings = Settings.for_home(home)
    with App(settings) as app:
        app.migrate()
        with app.transaction() as s:
            if s.scalar(select(Media.id).limit(1)) is not None:
                have = s.scalar(select(func.count()).select_from(FingerprintModel))
                print(f"  reusing {home}: {have:,} PDQ hashes indexed (not --n)")
                return
            agency = repo.create_agency(s, "BENCH", "NL", "Bench unit", "bench@example.org")
            series = repo.create_series(s, "Bench series", agency)
            series_id = series.id
        create_user(
            app,
            Caller.local_operator(),
            "bench@example.org",
            agency="BENCH",
            role="analyst",
            password=None,
        )
    t0 = time.perf_counter()
    _bulk_rows(home / "tessera.sqlite", n, series_id, seed)
    print(f"  {n:,} media + PDQ rows loaded in {time.perf_counter() - t0:.0f} s")
    with App(settings) as app:
        t1 = time.perf_counter()
        PdqStore(app.db, settings.index_dir)
        print(f"  index built in {time.perf_counter() - t1:.1f} s")


_SECONDARY = (
    "ix_media_md5",
    "ix_media_sha1",
    "ix_series_media_media_id",
    "ix_fingerprint_algorithm_id",
)


def _bulk_rows(db_file: Path, n: int, series_id: int, seed: int) -> None:
    import sqlite3

    rng = np.random.default_rng(seed)
    con = sqlite3.connect(db_file, isolation_level=None)
    try:
        con.execute("PRAGMA synchronous=OFF")
        con.execute("PRAGMA cache_size=-2000000")
        marks = ",".join("?" * len(_SECONDARY))
        ddl = [
            r[0]
            for r in con.execute(
                f"SELECT sql FROM sqlite_master WHERE type='index' AND name IN ({marks})",
                _SECONDARY,
            )
        ]
        for name in _SECONDARY:
            con.execute(f"DROP INDEX IF EXISTS {name}")
        first = (con.execute("SELECT max(id) FROM media").fetchone()[0] or 0) + 1
        fp_first = (con.execute("SELECT max(id) FROM fingerprint").fetchone()[0] or 0) + 1
        now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        chunk = 500_000
        t0 = time.perf_counter()
        for lo in range(0, n, chunk):
            m = min(chunk, n - lo)
            codes = _random_codes(rng, m)
            digests = rng.integers(0, 256, size=(m, 68), dtype=np.uint8)
            ids = range(first + lo, first + lo + m)
            blobs = [bytes(b) for b in digests]
            vals = [bytes(c) for c in codes]
            con.execute("BEGIN")
            con.executemany(
                "INSERT INTO media (id, sha256, md5, sha1, kind, format, byte_size, "
                "submissions, first_seen_at, has_content) "
                "VALUES (?, ?, ?, ?, 'image', 'jpeg', 1000, 1, ?, 1)",
                ((i, b[:32], b[32:48], b[48:68], now) for i, b in zip(ids, blobs, strict=True)),
            )
            con.executemany(
                "INSERT INTO fingerprint (id, media_id, algorithm, version, position, value, "
                "quality) VALUES (?, ?, 'pdq', 1, 0, ?, 100)",
                ((fp_first + lo + k, i, v) for k, (i, v) in enumerate(zip(ids, vals, strict=True))),
            )
            con.executemany(
                "INSERT INTO series_media (series_id, media_id) VALUES (?, ?)",
                ((series_id, i) for i in ids),
            )
            con.execute("COMMIT")
            print(f"\r  loaded {lo + m:,}/{n:,} ({time.perf_counter() - t0:.0f} s)", end="")
        print()
        for sql in ddl:
            con.execute(sql)
    finally:
        con.close()


def stored_sample(home: Path, k: int, seed: int = 2) -> list[str]:
    from sqlalchemy import func, select

    from tessera.app import App, Settings
    from tessera.storage.models import FingerprintModel

    with App(Settings.for_home(home)) as app, app.transaction() as s:
        hi = int(s.scalar(select(func.max(FingerprintModel.id))) or 0)
        rng = random.Random(seed)
        ids = [rng.randint(1, hi) for _ in range(k)]
        rows = s.execute(select(FingerprintModel.value).where(FingerprintModel.id.in_(ids))).all()
    return [bytes(r[0]).hex() for r in rows]


def md5_queries(home: Path, k: int, seed: int = 4) -> list[str]:
    """Half MD5s of stored media, half random digests (misses), interleaved."""
    from sqlalchemy import func, select

    from tessera.app import App, Settings
    from tessera.storage.models import Media

    with App(Settings.for_home(home)) as app, app.transaction() as s:
        hi = int(s.scalar(select(func.max(Media.id))) or 0)
        rng = random.Random(seed)
        ids = [rng.randint(1, hi) for _ in range(k // 2)]
        stored = [
            bytes(r[0]).hex()
            for r in s.execute(select(Media.md5).where(Media.id.in_(ids))).all()
            if r[0] is not None
        ]
    out: list[str] = []
    for h in stored:
        out += [h, f"{rng.getrandbits(128):032x}"]
    return out


def queries(stored: list[str], k: int, seed: int = 3) -> list[str]:
    """Half near copies of stored hashes (<= 8 bits flipped), half random misses."""
    rng = random.Random(seed)
    out = []
    for i in range(k):
        if i % 2 == 0 and stored:
            v = int(rng.choice(stored), 16)
            for b in rng.sample(range(256), rng.randint(0, 8)):
                v ^= 1 << b
            out.append(f"{v:064x}")
        else:
            out.append(f"{rng.getrandbits(256):064x}")
    return out


def make_token(home: Path) -> str:
    from tessera.app import App, Caller, Settings
    from tessera.app.accounts import create_token

    with App(Settings.for_home(home)) as app:
        return create_token(app, Caller.local_operator(), "bench@example.org").token


# -- the server -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(home: Path, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    import httpx

    port = free_port()
    env = {**os.environ, "TESSERA_HOME": str(home)}
    env.pop("TESSERA_DATABASE_URL", None)
    log = (home / "serve.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tessera.cli.main",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/status", timeout=2).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise SystemExit(f"server did not start; see {home / 'serve.log'}")


# -- load generation (runs in its own process) ------------------------------------------


class _RawHttp:
    """A keep-alive HTTP/1.1 connection written and parsed by hand: the lean load
    generator (``--client raw``). httpx costs ~2 ms of CPU per request (measured at 1M:
    2.06 ms per ``GET /status``), so on a 2-core machine it alone would use both cores
    at 1,000 req/s; a load generator like wrk costs a few percent of that. Answers
    with ``Content-Length`` only (what uvicorn sends for JSON)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, target: str, token: str | None, body: bytes = b"") -> int:
        if self.writer is None or self.reader is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        head = f"{method} {target} HTTP/1.1\r\nHost: {self.host}\r\n"
        if token:
            head += f"Authorization: Bearer {token}\r\n"
        if body:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        try:
            self.writer.write(head.encode() + b"\r\n" + body)
            block = await self.reader.readuntil(b"\r\n\r\n")
            status = int(block[9:12])
            lower = block.lower()
            at = lower.find(b"\r\ncontent-length:")
            if at < 0:
                raise ConnectionError("answer without Content-Length")
            end = lower.index(b"\r\n", at + 2)
            await self.reader.readexactly(int(lower[at + 17 : end]))
            if b"\r\nconnection: close" in lower:
                await self.close()
            return status
        except (OSError, asyncio.IncompleteReadError, ValueError):
            await self.close()
            raise

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def _load(  # noqa: PLR0917 (submitted positionally to a process pool)
    base: str,
    token: str,
    mode: str,
    hashes: list[str],
    concurrency: int,
    duration: float,
    client_kind: str = "httpx",
) -> dict[str, Any]:
    if client_kind == "raw":
        return _load_raw(base, token, mode, hashes, concurrency, duration)
    import httpx

    async def run() -> dict[str, Any]:
        lat: list[float] = []
        errors: dict[str, int] = {}
        done = 0
        stop = time.perf_counter() + duration
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(
            base_url=base,
            headers={"Authorization": f"Bearer {token}"},
            limits=limits,
            timeout=30,
        ) as client:

            async def worker(w: int) -> None:
                nonlocal done
                i = w
                while time.perf_counter() < stop:
                    t = time.perf_counter()
                    try:
                        if mode == "status":  # the HTTP stack alone: no token, no lookup
                            r = await client.get("/status")
                            n = 1
                        elif mode == "single":
                            h = hashes[i % len(hashes)]
                            r = await client.get(
                                "/api/v1/lookup", params={"type": "pdq", "hash": h}
                            )
                            n = 1
                        elif mode == "hma":  # HMA's single lookup, as its clients ask
                            h = hashes[i % len(hashes)]
                            r = await client.get(
                                "/m/lookup", params={"signal_type": "pdq", "signal": h}
                            )
                            n = 1
                        else:
                            lo = (i * BATCH) % max(1, len(hashes) - BATCH)
                            kind = _batch_kind(mode)
                            body = {
                                "queries": [
                                    {"type": kind, "hash": h} for h in hashes[lo : lo + BATCH]
                                ]
                            }
                            r = await client.post("/api/v1/lookup", json=body)
                            n = BATCH
                        if r.status_code != 200:
                            errors[str(r.status_code)] = errors.get(str(r.status_code), 0) + 1
                        else:
                            done += n
                    except httpx.HTTPError as exc:
                        errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                    lat.append(time.perf_counter() - t)
                    i += concurrency

            t0 = time.perf_counter()
            c0 = time.process_time()
            await asyncio.gather(*(worker(w) for w in range(concurrency)))
            wall = time.perf_counter() - t0
            cpu = time.process_time() - c0
        return {"latencies": lat, "errors": errors, "done": done, "wall": wall, "client_cpu": cpu}

    return asyncio.run(run())


def _load_raw(  # noqa: PLR0917 (as _load)
    base: str, token: str, mode: str, hashes: list[str], concurrency: int, duration: float
) -> dict[str, Any]:
    """``_load`` through ``_RawHttp`` connections, one per concurrent worker."""
    import json
    from urllib.parse import urlencode, urlsplit

    url = urlsplit(base)
    host, port = url.hostname or "127.0.0.1", url.port or 80

    async def run() -> dict[str, Any]:
        lat: list[float] = []
        errors: dict[str, int] = {}
        done = 0
        stop = time.perf_counter() + duration

        async def worker(w: int) -> None:
            nonlocal done
            conn = _RawHttp(host, port)
            i = w
            while time.perf_counter() < stop:
                t = time.perf_counter()
                try:
                    if mode == "status":
                        status, n = await conn.request("GET", "/status", None), 1
                    elif mode == "single":
                        q = urlencode({"type": "pdq", "hash": hashes[i % len(hashes)]})
                        status, n = await conn.request("GET", f"/api/v1/lookup?{q}", token), 1
                    elif mode == "hma":
                        q = urlencode({"signal_type": "pdq", "signal": hashes[i % len(hashes)]})
                        status, n = await conn.request("GET", f"/m/lookup?{q}", token), 1
                    else:
                        lo = (i * BATCH) % max(1, len(hashes) - BATCH)
                        kind = _batch_kind(mode)
                        body = json.dumps(
                            {
                                "queries": [
                                    {"type": kind, "hash": h} for h in hashes[lo : lo + BATCH]
                                ]
                            }
                        ).encode()
                        status = await conn.request("POST", "/api/v1/lookup", token, body)
                        n = BATCH
                    if status != 200:
                        errors[str(status)] = errors.get(str(status), 0) + 1
                    else:
                        done += n
                except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                lat.append(time.perf_counter() - t)
                i += concurrency
            await conn.close()

        t0 = time.perf_counter()
        c0 = time.process_time()
        await asyncio.gather(*(worker(w) for w in range(concurrency)))
        wall = time.perf_counter() - t0
        cpu = time.process_time() - c0
        return {"latencies": lat, "errors": errors, "done": done, "wall": wall, "client_cpu": cpu}

    return asyncio.run(run())


def _batch_kind(mode: str) -> str:
    """``batch``: PDQ hashes; ``batch-md5``: MD5 digests (exact lookups)."""
    return "md5" if mode == "batch-md5" else "pdq"


def _pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    return float(np.percentile(np.array(values) * 1000, p))


def report(name: str, res: dict[str, Any], unit: str = "req") -> None:
    lat = res["latencies"]
    rate = res["done"] / res["wall"] if res["wall"] else 0.0
    errs = sum(res["errors"].values())
    print(
        f"  {name:<34} {rate:>10,.0f} {unit}/s   p50 {_pct(lat, 50):7.1f} ms   "
        f"p99 {_pct(lat, 99):7.1f} ms   requests {len(lat):,}   errors {errs} {res['errors'] or ''}"
    )
    if "server_cpu" in res and lat:
        # what the machine's load does not inflate: CPU seconds spent per request
        units = res["done"] or len(lat)
        # the server's background threads (index polls, the writer, a big series'
        # recount, the audit flush) run whatever the request rate: counted apart
        background = BACKGROUND["cpu_per_s"] * res["wall"]
        srv = max(0.0, res["server_cpu"] - background) / units * 1000
        cli = res["client_cpu"] / units * 1000
        per_cpu = 1000 / (srv + cli) if srv + cli else float("nan")
        print(
            f"  {'':<34} CPU per {unit}: server {srv:.3f} ms + load generator {cli:.3f} ms "
            f"= {per_cpu:,.0f} {unit}/CPU-second (server's background "
            f"{background / units * 1000:.3f} ms more); load average {os.getloadavg()[0]:.1f}"
        )
    if res.get("workers"):
        shares = ", ".join(f"{c} conn. {cpu:.1f} CPU-s" for c, cpu in res["workers"])
        print(f"  {'':<34} server processes by connections held: {shares}")


BACKGROUND = {"cpu_per_s": 0.0}
"""Server CPU seconds per second with no request in flight (``idle_cpu``)."""


def idle_cpu(server_pid: int, seconds: float) -> float:
    c0, t0 = tree_cpu(server_pid), time.perf_counter()
    time.sleep(seconds)
    return (tree_cpu(server_pid) - c0) / (time.perf_counter() - t0)


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by process ``pid`` and its descendants
    (the server and its uvicorn workers), from /proc."""
    return sum(proc_cpu(p) for p in server_pids(pid))


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) of one process, from /proc (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def connections_by_process(pids: list[int], port: int) -> dict[int, int]:
    """Established TCP connections on local ``port`` held by each of ``pids`` (from
    /proc: the sockets' inodes in /proc/net/tcp, matched to each process's fds)."""
    inodes: set[str] = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        f = line.split()
        if int(f[1].rsplit(":", 1)[1], 16) == port and f[3] == "01":  # 01: ESTABLISHED
            inodes.add(f[9])
    out: dict[int, int] = {}
    for pid in pids:
        n = 0
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                    n += target.startswith("socket:[") and target[8:-1] in inodes
        except OSError:
            continue
        out[pid] = n
    return out


def measured(pool: ProcessPoolExecutor, server_pid: int, *args: Any) -> dict[str, Any]:
    """One load phase (``_load`` in the pool), with the server's CPU seconds during it,
    and how its connections and CPU were shared among the workers: they accept from one
    socket, and a worker holding most connections is the tail."""
    pids = server_pids(server_pid)
    per0 = {p: proc_cpu(p) for p in pids}
    c0 = tree_cpu(server_pid)
    job = pool.submit(_load, *args)
    time.sleep(min(2.0, float(args[5]) / 2))  # connections made, the phase running
    port = int(str(args[0]).rsplit(":", 1)[1])
    conns = connections_by_process(pids, port)
    res: dict[str, Any] = job.result()
    res["server_cpu"] = tree_cpu(server_pid) - c0
    busy = {p: proc_cpu(p) - c for p, c in per0.items()}
    workers = sorted((p for p in pids if conns.get(p)), key=lambda p: -conns[p])
    workers += sorted(p for p in pids if p not in workers and busy[p] > 0.05 * res["wall"])
    res["workers"] = [(conns.get(p, 0), busy[p]) for p in workers]
    return res


# -- bulk import during lookups -----------------------------------------------------------


def _import(home: str, rows: int, batch: int, seed: int, log: str = "") -> dict[str, Any]:
    """Commit ``rows`` new media+PDQ in batches; after each commit, its time and the
    batch's last hash go to ``log`` (a line each, for ``Freshness`` to follow)."""
    from sqlalchemy import insert, select

    from tessera.app import App, Settings
    from tessera.storage.models import FingerprintModel, Media, series_media

    rng = np.random.default_rng(seed)
    committed: list[tuple[float, str]] = []
    t0 = time.perf_counter()
    with App(Settings.for_home(Path(home))) as app:
        for lo in range(0, rows, batch):
            m = min(batch, rows - lo)
            codes = _random_codes(rng, m)
            digests = rng.integers(0, 256, size=(m, 68), dtype=np.uint8)
            with app.db.engine.begin() as conn:
                first = (
                    conn.execute(select(Media.id).order_by(Media.id.desc()).limit(1)).scalar() or 0
                ) + 1
                conn.execute(
                    insert(Media),
                    [
                        {
                            "id": first + i,
                            "sha256": digests[i, :32].tobytes(),
                            "md5": digests[i, 32:48].tobytes(),
                            "sha1": digests[i, 48:68].tobytes(),
                            "kind": "image",
                            "byte_size": 1,
                            "submissions": 1,
                        }
                        for i in range(m)
                    ],
                )
                conn.execute(
                    insert(FingerprintModel),
                    [
                        {
                            "media_id": first + i,
                            "algorithm": "pdq",
                            "version": 1,
                            "position": 0,
                            "value": codes[i].tobytes(),
                            "quality": 100,
                        }
                        for i in range(m)
                    ],
                )
                conn.execute(  # in the series, so the bench caller may see them
                    insert(series_media),
                    [{"series_id": 1, "media_id": first + i} for i in range(m)],
                )
            committed.append((time.time(), codes[-1].tobytes().hex()))
            if log:
                with open(log, "a") as f:
                    f.write(f"{committed[-1][0]} {committed[-1][1]}\n")
    return {"rows": rows, "seconds": time.perf_counter() - t0, "committed": committed}


def first_hits(base: str, token: str, hashes: list[str]) -> None:
    """Hits in parallel until every worker answered one: a worker's first hit on a series
    counts its media (seconds at 10M; later lookups reuse the count while it is redone
    in the background), which the timed phases should not include."""
    import httpx

    async def run() -> None:
        async with httpx.AsyncClient(
            base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=1800
        ) as client:
            await asyncio.gather(
                *(client.get("/api/v1/lookup", params={"type": "pdq", "hash": h}) for h in hashes)
            )

    asyncio.run(run())


def wait_resident(base: str, token: str, workers: int) -> float:
    """Seconds until every worker searches its private copy of the base (``base_resident``);
    each copies it in the background after start-up (``TESSERA_INDEX_RESIDENT=0``: never)."""
    import httpx

    t0 = time.perf_counter()
    if os.environ.get("TESSERA_INDEX_RESIDENT", "").strip().lower() in ("0", "false", "no", "off"):
        return 0.0
    streak = 0
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as client:
        while streak < 4 * workers and time.perf_counter() - t0 < 300:
            index = client.get("/api/v1/status", timeout=30).json()["index"]
            streak = streak + 1 if index["base_resident"] or not index["base_size"] else 0
            time.sleep(0.05)
    return time.perf_counter() - t0


class Freshness(threading.Thread):
    """Follows the import's log while it runs: for each committed batch's last hash,
    seconds from its commit until a lookup (radius 0, polled every 10 ms) finds it.

    Polled as each batch commits, not after the import: asking only once it ended
    would count the time the later batches took as lag."""

    def __init__(self, base: str, token: str, log: Path) -> None:
        super().__init__(daemon=True)
        self.base, self.token, self.log = base, token, log
        self.lags: list[float] = []
        self.done = threading.Event()

    def run(self) -> None:
        import httpx

        seen = 0
        with httpx.Client(
            base_url=self.base, headers={"Authorization": f"Bearer {self.token}"}
        ) as c:
            while True:
                text = self.log.read_text() if self.log.exists() else ""
                lines = text.split("\n")[:-1]  # whole lines only: one may be half written
                if seen == len(lines):
                    if self.done.is_set():
                        return
                    time.sleep(0.01)
                    continue
                at_text, h = lines[seen].split()
                seen += 1
                at = float(at_text)
                while True:
                    r = c.get("/api/v1/lookup", params={"type": "pdq", "hash": h, "radius": 0})
                    if r.json()["results"][0]["matches"]:
                        self.lags.append(time.time() - at)
                        break
                    if time.time() - at > 30:
                        self.lags.append(float("inf"))
                        break
                    time.sleep(0.01)


# -- in-process baselines ---------------------------------------------------------------


def in_process(home: Path, hashes: list[str], seconds: float) -> tuple[float, float, float, float]:
    """(index-only searches/s, use-case ms per lookup, audit ms per entry alone, audit ms
    per entry in batches of 200) in this process."""
    from tessera.app import App, Caller, Role, Settings
    from tessera.app import audit as audit_uc
    from tessera.app.lookup import HashQuery, lookup
    from tessera.index.codes import codes_from_hex
    from tessera.matching.live_index import LivePdqIndex

    settings = Settings.for_home(home)
    with App(settings) as app:
        live = LivePdqIndex(app.db, settings.index_dir)
        live.refresh()
        codes = codes_from_hex(hashes)
        for i in range(200):  # fault the mapped index in (cold after other work evicted it)
            live.search(codes[i : i + 1])
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            live.search(codes[n % len(codes) : n % len(codes) + 1])
            n += 1
        engine_rate = n / (time.perf_counter() - t0)
        caller = Caller(
            role=Role.ANALYST, user_id=1, email="bench@example.org", agency_code="BENCH"
        )
        # the first hit on the series counts its media (seconds at 10M), not timed here
        lookup(app, caller, [HashQuery(type="pdq", hash=hashes[0])], pdq=live)
        k, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            lookup(app, caller, [HashQuery(type="pdq", hash=hashes[k % len(hashes)])], pdq=live)
            k += 1
        per_lookup = (time.perf_counter() - t0) / k * 1000
        j, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            audit_uc.record(
                app, caller, "lookup", params={"queries": [["pdq", hashes[0]]]}, result_count=1
            )
            j += 1
        per_audit = (time.perf_counter() - t0) / j * 1000
        # what a server pays: entries queued per request, appended 200 at a time
        # (tessera.app.audit.AuditQueue: one transaction and one checkpoint per batch)
        b, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            audit_uc.record_batch(
                app,
                [
                    audit_uc.pending(caller, "api.lookup_one", params={"q": i}, result_count=1)
                    for i in range(200)
                ],
            )
            b += 200
        per_batched = (time.perf_counter() - t0) / b * 1000
    return engine_rate, per_lookup, per_audit, per_batched


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _new_generation(home: str, seed: int) -> None:
    from tessera.app import App, Settings
    from tessera.matching.pdq_store import PdqStore

    _import(home, 1_000, 1_000, seed)
    settings = Settings.for_home(Path(home))
    with App(settings) as app:
        PdqStore(app.db, settings.index_dir)  # opening catches up and saves


def reload_memory(home: Path, reloads: int, hashes: list[str]) -> tuple[float, float, float]:
    """(RSS MB after the first reload, after the last, reloads done): a reader following
    ``reloads`` new base generations saved by the writer, searching between them."""
    import gc

    from tessera.app import App, Settings
    from tessera.index.codes import codes_from_hex
    from tessera.matching.live_index import LivePdqIndex

    settings = Settings.for_home(home)
    codes = codes_from_hex(hashes[:200])
    with App(settings) as app, ProcessPoolExecutor(1) as writer:
        live = LivePdqIndex(app.db, settings.index_dir)
        first = last = float("nan")
        for k in range(reloads):
            # the writer, in its own process: 1,000 new rows, then a new generation on disk
            writer.submit(_new_generation, str(home), time.time_ns() + k).result()
            live.refresh()  # mapped, old one dropped
            live.make_resident()  # what the worker's background thread does next
            for i in range(len(codes)):
                live.search(codes[i : i + 1])
            gc.collect()
            if k == 0:
                first = _rss_mb()
            last = _rss_mb()
        return first, last, float(live.status().reloads)


PHASES = ("single", "status", "misses", "hits", "hma", "batch", "batch-md5", "soak", "import")


def server_pids(pid: int) -> list[int]:
    """The server process and its descendants (uvicorn workers), from /proc."""
    parent: dict[int, int] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                fields = Path(f"/proc/{d}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parent[int(d)] = int(fields[1])
    tree = {pid}
    grew = True
    while grew:
        more = {p for p, pp in parent.items() if pp in tree} - tree
        grew = bool(more)
        tree |= more
    return sorted(tree)


def _import_phase(  # noqa: PLR0917
    args: argparse.Namespace,
    home: Path,
    base: str,
    token: str,
    qs: list[str],
    pool: ProcessPoolExecutor,
) -> None:
    """Lookups while a bulk import commits, then how soon the last batches are found."""
    ck = args.client
    log = home / f"import-{time.time_ns()}.log"
    watch = Freshness(base, token, log)
    watch.start()
    with ProcessPoolExecutor(1) as writer:
        imp = writer.submit(_import, str(home), args.import_rows, 10_000, time.time_ns(), str(log))
        during = pool.submit(
            _load, base, token, "single", qs, args.concurrency, args.duration, ck
        ).result()
        imported = imp.result()
    watch.done.set()
    watch.join()
    log.unlink(missing_ok=True)
    report("single lookups during import", during)
    print(
        f"  bulk import: {imported['rows']:,} hashes in {imported['seconds']:.1f} s "
        f"({imported['rows'] / imported['seconds']:,.0f}/s)"
    )
    fresh = watch.lags
    print(
        f"  commit -> found by a lookup (polled as each batch committed): median "
        f"{statistics.median(fresh):.2f} s, max {max(fresh):.2f} s ({len(fresh)} batches)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000, help="indexed PDQ hashes")
    ap.add_argument("--home", type=Path, default=None, help="reuse/keep the data here")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument(
        "--batch-concurrency",
        type=int,
        default=2,
        help="batch requests in flight (2 connections can land on one worker of 2)",
    )
    ap.add_argument("--duration", type=float, default=15.0, help="seconds per phase")
    ap.add_argument("--soak", type=float, default=60.0, help="seconds of the many-clients phase")
    ap.add_argument("--import-rows", type=int, default=100_000)
    ap.add_argument("--reloads", type=int, default=20, help="base generations to follow")
    ap.add_argument("--only-reloads", action="store_true", help="just the RSS-over-reloads phase")
    ap.add_argument(
        "--only",
        default="",
        help="comma-separated server phases to run (single, status, misses, hits, hma, batch, "
        "batch-md5, soak, import), skipping the in-process baselines and the reloads: for "
        "profiling one path",
    )
    ap.add_argument(
        "--pause",
        type=float,
        default=0.0,
        help="seconds to wait before each timed phase, printing the server's pids (to attach "
        "a profiler such as py-spy)",
    )
    ap.add_argument(
        "--client",
        choices=("httpx", "raw"),
        default="httpx",
        help="load generator: httpx (as in earlier sessions) or raw keep-alive HTTP/1.1 "
        "written by hand (~wrk's cost: leaves the CPU to the server)",
    )
    args = ap.parse_args()
    if args.only_reloads:
        home = args.home or Path(f"/tmp/tessera-bench-api-{args.n}")
        build_home(home, args.n)
        first, last, done = reload_memory(
            home, args.reloads, queries(stored_sample(home, 500), 200)
        )
        print(
            f"reader RSS after reload 1: {first:,.0f} MB, after reload {done:.0f}: {last:,.0f} MB"
        )
        return

    home = args.home or Path(f"/tmp/tessera-bench-api-{args.n}")
    print(f"Tessera API benchmark: {args.n:,} PDQ hashes, {args.workers} workers, home {home}")
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start")
    build_home(home, args.n)
    stored = stored_sample(home, 5_000)
    qs = queries(stored, 20_000)
    token = make_token(home)
    only = {p.strip() for p in args.only.split(",") if p.strip()}
    unknown = only - set(PHASES)
    if unknown:
        raise SystemExit(f"--only: unknown phases {sorted(unknown)} (of {', '.join(PHASES)})")
    want = only or set(PHASES)

    if not only:
        engine_rate, per_lookup, per_audit, per_batched = in_process(home, qs, 5.0)
    proc, base = start_server(home, args.workers)
    try:
        with ProcessPoolExecutor(1) as pool:
            t_first = time.perf_counter()
            first_hits(base, token, qs[0::2][:8])
            print(
                f"  first hits (each worker counts the series once): "
                f"{time.perf_counter() - t_first:.1f} s"
            )
            ready = wait_resident(base, token, args.workers)
            print(f"  workers' private index copies ready: {ready:.1f} s")
            ck = args.client
            warm = pool.submit(_load, base, token, "single", qs, 4, 3.0, ck).result()
            del warm
            BACKGROUND["cpu_per_s"] = idle_cpu(proc.pid, 10.0)
            print(
                f"  server background with no requests: {BACKGROUND['cpu_per_s']:.3f} CPU-s/s "
                f"(2 workers + the index writer)"
            )
            print(f"\nresults (load generator: one process, asyncio + {ck}, same machine)")
            single: dict[str, Any] = {"latencies": [0.001]}

            def phase(name: str) -> bool:
                if name not in want:
                    return False
                if args.pause:
                    print(f"  [{name} in {args.pause:.0f} s; server pids {server_pids(proc.pid)}]")
                    time.sleep(args.pause)
                return True

            if phase("single"):
                single = measured(
                    pool, proc.pid, base, token, "single", qs, args.concurrency, args.duration, ck
                )
                report(f"single lookups (c={args.concurrency})", single)
            if phase("status"):
                floor = measured(
                    pool, proc.pid, base, token, "status", qs, args.concurrency, args.duration, ck
                )
                report("GET /status (no token, no lookup)", floor)
            if phase("misses"):
                misses = measured(
                    pool,
                    proc.pid,
                    base,
                    token,
                    "single",
                    qs[1::2],
                    args.concurrency,
                    args.duration,
                    ck,
                )
                report("  of which misses only", misses)
            if phase("hits"):
                hits = measured(
                    pool,
                    proc.pid,
                    base,
                    token,
                    "single",
                    qs[0::2],
                    args.concurrency,
                    args.duration,
                    ck,
                )
                report("  of which hits only (near copies, <= 8 bits)", hits)
            if phase("hma"):
                hma = measured(
                    pool, proc.pid, base, token, "hma", qs, args.concurrency, args.duration, ck
                )
                report(f"HMA GET /m/lookup, half hits (c={args.concurrency})", hma)
            if phase("batch"):
                bc = args.batch_concurrency
                batch = measured(pool, proc.pid, base, token, "batch", qs, bc, args.duration, ck)
                report(f"batch lookups ({BATCH}/request, c={bc})", batch, unit="hash")
            if phase("batch-md5"):
                md5s = md5_queries(home, 20_000)
                batch_md5 = measured(
                    pool, proc.pid, base, token, "batch-md5", md5s, 2, args.duration, ck
                )
                report(
                    f"batch MD5 lookups ({BATCH}/request, half stored, c=2)",
                    batch_md5,
                    unit="hash",
                )
            if phase("soak"):
                soak = measured(
                    pool, proc.pid, base, token, "single", qs, args.clients, args.soak, ck
                )
                report(f"{args.clients} clients for {args.soak:.0f} s", soak)
            if phase("import"):
                _import_phase(args, home, base, token, qs, pool)
    finally:
        proc.terminate()
        # the index writer may be saving a 10M generation at low priority: its stop
        # waits up to 30 s for the save before the process exits
        proc.wait(timeout=120)
    if only:
        return
    mean_ms = statistics.mean(single["latencies"]) * 1000
    print("\nbaselines and shares")
    print(f"  in-process index search (no HTTP, 1 hash)      {engine_rate:10,.0f} searches/s")
    print(f"  in-process lookup use case (visibility, audit) {per_lookup:10.2f} ms per lookup")
    print(
        f"  audit entry (in process)                       {per_audit:10.2f} ms per entry "
        f"= {per_audit / mean_ms:.0%} of the mean single-lookup request ({mean_ms:.1f} ms)"
    )
    print(
        f"  audit entry batched as served (200/batch)       {per_batched:10.3f} ms per entry "
        f"= {per_batched / mean_ms:.1%} of the mean single-lookup request"
    )
    first, last, done = reload_memory(home, args.reloads, qs)
    print(f"  reader RSS after reload 1: {first:,.0f} MB, after reload {done:.0f}: {last:,.0f} MB")
    print(f"  {HMA_FIELD}")
    print(
        "\ntargets (issue 11, at 10M): single >= 1,000 req/s at p99 <= 50 ms; batch >= 20,000 "
        "hashes/s; 50 clients 60 s with 0 errors; p99 <= 100 ms during a 1M import"
    )


if __name__ == "__main__":
    main()
