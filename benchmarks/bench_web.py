"""Every web UI page's server time at p50/p95 with 100k media in the database.

Builds (or reuses) a home with ``--n`` hash-only media (random digests and PDQ, bulk
inserted like ``bench_api.build_home``: no pictures are ingested), all in one series
and sighted in one case of agency BENCH, with camera/GPS metadata on every item,
OCR text on one in ten and a marker on one in a hundred. Starts a real ``tessera
serve`` (one worker) on 127.0.0.1, signs in as a curator with a browser session
and requests each page ``--repeat`` times in turn, timing each response on the
client (loopback: the server's time plus well under a millisecond), and the
server process's CPU time per request (``CPU ms``, from /proc: steadier than
wall-clock time on a loaded machine). On a PostgreSQL server of this machine, its
backends' CPU time for the server's connections per request too (``DB ms``: the
server's connections are named by ``application_name``; blank elsewhere).

A finished triage job of 10,000 files (3 in 10 known or near) gives the job page.

Target (issue 13): p95 <= 200 ms on every page. Baseline printed beside: the same
data through the plain REST API (bearer token, JSON, no templates) where one
exists, and the ratio.

    python benchmarks/bench_web.py                      # 100k media, ~3 min the first time
    python benchmarks/bench_web.py --home /tmp/bweb     # reuse a built home
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from tempfile import mkdtemp

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_api import build_home, make_token, start_server


class Db:
    url: str | None = None
    """``--database-url``: PostgreSQL instead of the home's SQLite file."""
    serve_url: str | None = None
    """``--service-role``: the server's URL, as a role under Row-Level Security."""
    app_name = f"tessera-bench-web-{os.getpid()}"
    """The server's connections' ``application_name``: finds their backends."""


def settings_of(home: Path) -> object:
    from tessera.app import Settings

    return Settings.for_home(home, database_url=Db.url)


def build_pg(home: Path, n: int, seed: int = 1) -> None:
    """``bench_api.build_home`` for PostgreSQL: the same rows (random digests and PDQ,
    all in one series) through SQLAlchemy Core in 20,000-row statements."""
    from sqlalchemy import func, insert, select

    from tessera.app import App, Caller
    from tessera.app.accounts import create_user
    from tessera.matching.pdq_store import PdqStore
    from tessera.storage import repo
    from tessera.storage.models import FingerprintModel, Media, series_media

    settings = settings_of(home)
    with App(settings) as app:  # type: ignore[arg-type]
        app.migrate()
        with app.transaction() as s:
            if s.scalar(select(Media.id).limit(1)) is not None:
                have = s.scalar(select(func.count()).select_from(FingerprintModel))
                print(f"  reusing the database: {have:,} PDQ hashes (not --n)")
                return
            agency = repo.create_agency(s, "BENCH", "NL", "Bench unit", "bench@example.org")
            series_id = repo.create_series(s, "Bench series", agency).id
        create_user(
            app,
            Caller.local_operator(),
            "bench@example.org",
            agency="BENCH",
            role="analyst",
            password=None,
        )
        rng = np.random.default_rng(seed)
        now = datetime.now(UTC)
        t0 = time.perf_counter()
        chunk = 20_000
        for lo in range(0, n, chunk):
            m = min(chunk, n - lo)
            digests = rng.integers(0, 256, size=(m, 68), dtype=np.uint8)
            codes = rng.integers(0, 256, size=(m, 32), dtype=np.uint8)
            with app.db.engine.begin() as conn:
                ids = list(
                    conn.scalars(
                        insert(Media).returning(Media.id),
                        [
                            {
                                "sha256": bytes(b[:32]),
                                "md5": bytes(b[32:48]),
                                "sha1": bytes(b[48:68]),
                                "kind": "image",
                                "format": "jpeg",
                                "byte_size": 1000,
                                "submissions": 1,
                                "first_seen_at": now,
                                "has_content": True,
                            }
                            for b in digests
                        ],
                    )
                )
                conn.execute(
                    insert(FingerprintModel),
                    [
                        {
                            "media_id": i,
                            "algorithm": "pdq",
                            "version": 1,
                            "position": 0,
                            "value": bytes(c),
                            "quality": 100,
                        }
                        for i, c in zip(ids, codes, strict=True)
                    ],
                )
                conn.execute(
                    insert(series_media), [{"series_id": series_id, "media_id": i} for i in ids]
                )
            print(f"\r  loaded {lo + m:,}/{n:,} ({time.perf_counter() - t0:.0f} s)", end="")
        print()
        PdqStore(app.db, settings.index_dir)  # type: ignore[attr-defined]


def service_role_url(owner_url: str, role: str) -> str:
    """Make (or refresh) ``role``: LOGIN, NOBYPASSRLS, owning nothing, with the grants a
    deployed node's service role has on the bench schema, and return the owner's URL
    with that role instead: the server then reads through Row-Level Security."""
    import secrets

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", role):
        raise SystemExit(f"--service-role {role!r}: lower-case letters, digits and _ only")
    password = secrets.token_hex(12)
    engine = create_engine(owner_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        schema = conn.scalar(text("SELECT current_schema()"))
        exists = conn.scalar(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role})
        verb = "ALTER" if exists else "CREATE"
        conn.execute(text(f"{verb} ROLE {role} LOGIN PASSWORD '{password}' NOBYPASSRLS"))
        conn.execute(text(f'GRANT USAGE ON SCHEMA "{schema}" TO {role}'))
        conn.execute(
            text(
                f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "{schema}" TO {role}'
            )
        )
        conn.execute(text(f'GRANT USAGE ON ALL SEQUENCES IN SCHEMA "{schema}" TO {role}'))
    engine.dispose()
    return (
        make_url(owner_url)
        .set(username=role, password=password)
        .render_as_string(hide_password=False)
    )


def pg_token(home: Path) -> str:
    from tessera.app import App, Caller
    from tessera.app.accounts import create_token

    with App(settings_of(home)) as app:  # type: ignore[arg-type]
        return create_token(app, Caller.local_operator(), "bench@example.org").token


def start_pg_server(home: Path) -> tuple[object, str]:
    """``bench_api.start_server`` with ``TESSERA_DATABASE_URL`` set (one worker)."""
    import subprocess

    import bench_api

    port = bench_api.free_port()
    url = Db.serve_url or Db.url or ""
    url += ("&" if "?" in url else "?") + f"application_name={Db.app_name}"
    env = {**os.environ, "TESSERA_HOME": str(home), "TESSERA_DATABASE_URL": url}
    log = (home / "serve.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tessera.cli.main", "serve", "--port", str(port), "--workers", "1"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    import httpx

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


PASSWORD = "bench web password 1"
EMAIL = "curator@bench.example.org"
WORDS = ["harbour", "hotel", "room", "park", "station", "garden", "school", "river", "north"]


def enrich(home: Path, seed: int = 5) -> None:
    """Add the case, sightings, metadata, text and markers the pages show (once)."""
    from sqlalchemy import func, insert, select

    from tessera.app import App, Caller
    from tessera.app.accounts import create_user
    from tessera.features.local import LocalFeatures
    from tessera.storage import repo
    from tessera.storage.models import (
        Marker,
        Media,
        MediaMetadataModel,
        MediaText,
        Sighting,
    )

    with App(settings_of(home)) as app:
        with app.transaction() as s:
            if s.scalar(select(func.count()).select_from(Sighting)):
                print("  reusing the enriched home")
                return
            agency = repo.get_agency(s, "BENCH")
            case = repo.get_or_create_case(s, agency, "BENCH-2026-001")
            ids = [int(i) for i in s.scalars(select(Media.id).order_by(Media.id))]
            agency_id, case_id = agency.id, case.id
        create_user(
            app, Caller.local_operator(), EMAIL, agency="BENCH", role="curator", password=PASSWORD
        )
        rng = np.random.default_rng(seed)
        now = datetime.now(UTC)
        empty = LocalFeatures(
            xy=np.zeros((0, 2), np.float32),
            desc=np.zeros((0, 128), np.uint8),
            size=np.zeros(0, np.float16),
            angle=np.zeros(0, np.float16),
            width=1,
            height=1,
        ).to_bytes()
        t0 = time.perf_counter()
        chunk = 20_000
        for lo in range(0, len(ids), chunk):
            part = ids[lo : lo + chunk]
            lat = 52.3 + rng.random(len(part)) * 0.2
            lon = 4.8 + rng.random(len(part)) * 0.2
            cams = rng.integers(0, 100, len(part))
            with app.db.engine.begin() as conn:
                conn.execute(
                    insert(Sighting),
                    [
                        {
                            "media_id": m,
                            "case_id": case_id,
                            "agency_id": agency_id,
                            "original_path": f"/evidence/disk1/{m:07d}.jpg",
                            "seen_at": now,
                        }
                        for m in part
                    ],
                )
                conn.execute(
                    insert(MediaMetadataModel),
                    [
                        {
                            "media_id": m,
                            "make": "Canon",
                            "body_serial": f"{4510000 + int(c)}",
                            "camera_key": f"canon/{4510000 + int(c)}",
                            "latitude": float(lat[i]),
                            "longitude": float(lon[i]),
                            "data": {},
                        }
                        for i, (m, c) in enumerate(zip(part, cams, strict=True))
                    ],
                )
                conn.execute(
                    insert(MediaText),
                    [
                        {
                            "media_id": m,
                            "position": 0,
                            "engine": "bench",
                            "language": "eng",
                            "text": " ".join(rng.choice(WORDS, 4)),
                            "boxes": [],
                        }
                        for m in part[::10]
                    ],
                )
                conn.execute(
                    insert(Marker),
                    [
                        {
                            "media_id": m,
                            "kind": "poster",
                            "x0": 0,
                            "y0": 0,
                            "x1": 10,
                            "y1": 10,
                            "note": f"marker {m}",
                            "features": empty,
                            "created_at": now,
                        }
                        for m in part[::100]
                    ],
                )
            print(
                f"\r  enriched {lo + len(part):,}/{len(ids):,} ({time.perf_counter() - t0:.0f} s)",
                end="",
            )
        print()


JOB_FILES = 10_000  # a job's most (tessera.app.triage_jobs.MAX_FILES)


def triage_job(home: Path, seed: int = 6) -> str:
    """A finished triage job of the bench curator over 10,000 files (once): 3 in 10
    known (a media item of the bench series), the rest new in groups of up to 4,
    stored as the job runner stores it (the report's head and a row per file)."""
    from sqlalchemy import func, select

    from tessera.app import App
    from tessera.storage import triage_jobs as store
    from tessera.storage.models import Media, TriageJob

    with App(settings_of(home)) as app, app.transaction() as s:
        have = s.scalar(select(TriageJob.public_id).where(TriageJob.user_email == EMAIL).limit(1))
        if have:
            return str(have)
        top = int(s.scalar(select(func.max(Media.id))) or 1)
        rng = np.random.default_rng(seed)
        items: list[dict[str, object]] = []
        groups: dict[int, list[str]] = {}
        for i in range(JOB_FILES):
            path = f"seized/disk{i % 7}/{rng.integers(1 << 40):010x}.jpg"
            if i % 10 < 3:
                mid = int(rng.integers(1, top + 1))
                d = int(rng.integers(0, 20))
                status = "known" if d == 0 else "near"
                matches = [
                    {
                        "media_id": mid,
                        "via": "pdq",
                        "distance": d,
                        "submissions": 1,
                        "series": ["Bench series"],
                    }
                ]
                group = None
            else:
                status, matches, group = "new", [], len(groups) + 1 if i % 4 == 0 else len(groups)
                group = max(group, 1)
                groups.setdefault(group, []).append(path)
            items.append(
                {
                    "path": path,
                    "status": status,
                    "sha256": f"{rng.integers(1 << 62):064x}",
                    "md5": None,
                    "sha1": None,
                    "pdq": None,
                    "quality": 90,
                    "format": "jpeg",
                    "width": 640,
                    "height": 480,
                    "flags": [],
                    "error": None,
                    "matches": matches,
                    "new_group": group,
                    "similar": [],
                }
            )
        counts = {k: sum(it["status"] == k for it in items) for k in ("known", "near", "new")}
        head = {
            "summary": {
                "files": JOB_FILES,
                **counts,
                "error": 0,
                "skipped": 0,
                "archive": 0,
                "series_touched": 1,
                "new_groups": len(groups),
                "files_with_similar_scenes": 0,
            },
            "series": [
                {
                    "name": "Bench series",
                    "owner": {"agency": "BENCH", "country": "NL", "unit": "Bench", "contact": None},
                    "victim_identified": False,
                    "victim_identified_by": None,
                    "victim_identified_at": None,
                    "offender_identified": False,
                    "offender_identified_by": None,
                    "offender_identified_at": None,
                    "media_in_series": top,
                    "files_matched": counts["known"] + counts["near"],
                    "exact": counts["known"],
                    "near": counts["near"],
                    "paths": [it["path"] for it in items if it["matches"]],
                }
            ],
            "new_groups": list(groups.values()),
            "similar_scenes": [],
        }
        now = datetime.now(UTC)
        job = store.create(
            s,
            public_id=f"{rng.integers(1 << 62):032x}",
            user_id=None,
            user_email=EMAIL,
            agency_code="BENCH",
            role="curator",
            params={"radius": 31, "min_quality": 50},
            fingerprints=[],
            now=now,
        )
        store.finish(s, job.id, "done", now, result=head, files=items, done=JOB_FILES)
        return job.public_id


def sign_in(base: str) -> object:
    import httpx

    c = httpx.Client(base_url=base, timeout=60, follow_redirects=False)
    r = c.get("/login")
    token = re.search(r'name="token" value="([^"]+)"', r.text)
    assert token, "no sign-in token on /login"
    r = c.post(
        "/login",
        data={"token": token.group(1), "next": "/", "email": EMAIL, "password": PASSWORD},
    )
    assert r.status_code == 303, (r.status_code, r.text[:300])
    return c


def timed(
    client: object, path: str, repeat: int, headers: dict[str, str] | None = None
) -> list[float]:
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        r = client.get(path, headers=headers or {})  # type: ignore[attr-defined]
        out.append((time.perf_counter() - t) * 1000)
        if r.status_code != 200:
            raise SystemExit(f"{path}: HTTP {r.status_code}: {r.text[:300]}")
    return out


def cpu_ms(pid: int) -> float:
    """The process's user + system CPU time so far, in ms (Linux /proc; 0 elsewhere).

    The machine is shared: wall-clock p95 swings 2-5x with the load average, the
    server's CPU time per request much less, so both are printed."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def db_cpu_ms() -> float | None:
    """CPU time so far of the PostgreSQL backends serving the server's connections, in
    ms; None unless they are processes of this machine (a local server)."""
    if not Db.url:
        return None
    from sqlalchemy import create_engine, text

    engine = create_engine(Db.url)
    with engine.connect() as conn:
        pids = conn.scalars(
            text("SELECT pid FROM pg_stat_activity WHERE application_name = :n"),
            {"n": Db.app_name},
        ).all()
    engine.dispose()
    if not pids or not all(Path(f"/proc/{p}/stat").exists() for p in pids):
        return None
    return sum(cpu_ms(int(p)) for p in pids)


def pct(v: list[float], p: float) -> float:
    s = sorted(v)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--home", type=Path)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--only", default="", help="comma-separated page names to time (all if empty)")
    ap.add_argument(
        "--database-url",
        help="a PostgreSQL database (e.g. a schema of its own: "
        "...?options=-csearch_path%%3Dbench_web) instead of the home's SQLite file",
    )
    ap.add_argument(
        "--service-role",
        metavar="ROLE",
        help="with --database-url: serve as this PostgreSQL role (made if absent: NOBYPASSRLS, "
        "owning nothing), so every page is read through Row-Level Security as deployed",
    )
    args = ap.parse_args()
    Db.url = args.database_url
    if args.service_role and not Db.url:
        ap.error("--service-role needs --database-url")
    home = args.home or Path(mkdtemp(prefix="tessera-bench-web-"))
    print(f"home {home}: {args.n:,} hash-only media")
    if Db.url:
        home.mkdir(parents=True, exist_ok=True)
        build_pg(home, args.n)
    else:
        build_home(home, args.n)
    enrich(home)
    job = triage_job(home)
    if Db.url:  # fresh bulk-loaded tables: give the planner their statistics
        from sqlalchemy import create_engine, text

        engine = create_engine(Db.url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:  # this schema's tables only (a shared server)
            tables = conn.scalars(
                text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
            ).all()
            for table in tables:
                conn.execute(text(f'ANALYZE "{table}"'))
        engine.dispose()
    from sqlalchemy import func, select

    from tessera.app import App
    from tessera.storage.models import Case, Media, Series

    with App(settings_of(home)) as app, app.transaction() as s:
        mid = int(s.scalar(select(func.max(Media.id))) or 1) // 2
        sha = bytes(s.scalar(select(Media.sha256).where(Media.id == mid)) or b"").hex()
        sid = int(s.scalar(select(Series.id).limit(1)) or 1)
        cid = int(s.scalar(select(Case.id).limit(1)) or 1)
    token = pg_token(home) if Db.url else make_token(home)
    if args.service_role:
        Db.serve_url = service_role_url(Db.url or "", args.service_role)
        print(f"serving as {args.service_role} (NOBYPASSRLS): pages read through RLS")
    proc, base = start_pg_server(home) if Db.url else start_server(home, workers=1)
    try:
        web = sign_in(base)
        import httpx

        api = httpx.Client(base_url=base, timeout=60)
        bearer = {"Authorization": f"Bearer {token}"}
        series = "/series/Bench%20series"
        pages: list[tuple[str, str, str | None]] = [
            ("home", "/", None),
            ("triage", "/triage", None),
            ("triage job", f"/triage/jobs/{job}", None),
            ("job near p.30", f"/triage/jobs/{job}?show=near&sort=distance&page=30", None),
            ("series list", "/series", "/api/v1/series"),
            ("series", series, "/api/v1/series/Bench%20series"),
            ("series by size", f"{series}?grid_sort=size&grid_desc=true&grid_page=3", None),
            ("notifications", "/notifications?sort=kind", None),
            ("admin audit", "/admin?audit_sort=action&audit_page=2", None),
            ("series report", f"{series}/report", "/api/v1/media?series=Bench%20series&limit=96"),
            ("admin", "/admin", None),
            ("settings", "/settings", None),
            ("media item", f"/media/{mid}", f"/api/v1/media/{mid}"),
            ("search form", "/search", None),
            ("search hash", f"/search?hash={sha}", f"/api/v1/lookup?type=sha256&hash={sha}"),
            (
                "search text",
                "/search?text=harbour+hotel",
                "/api/v1/search-text?q=harbour+hotel&limit=24",
            ),
            ("search marker", "/search?marker=poster", None),
            ("search camera", "/search?serial=4510042", None),
            ("search place", "/search?lat=52.4&lon=4.9&radius=300", None),
            ("graph (agency)", "/graph", None),
            ("graph series", f"/graph?node=series:{sid}", None),
            ("graph case", f"/graph?node=case:{cid}", None),
        ]
        if args.only:
            wanted = {x.strip() for x in args.only.split(",")}
            pages = [p for p in pages if p[0] in wanted]
        for _, path, base_path in pages:  # warm caches once
            timed(web, path, 1)
            if base_path:
                timed(api, base_path, 1, bearer)
        print(
            f"\n{'page':16} {'p50 ms':>8} {'p95 ms':>8} {'CPU ms':>7} {'DB ms':>6}   "
            f"{'API baseline':40} "
            f"{'p50':>7} {'p95':>7} {'ratio p95':>9}"
        )
        worst = 0.0
        for name, path, base_path in pages:
            c0, d0 = cpu_ms(proc.pid), db_cpu_ms()
            t = timed(web, path, args.repeat)
            cpu = (cpu_ms(proc.pid) - c0) / args.repeat
            d1 = db_cpu_ms()
            db = f"{(d1 - d0) / args.repeat:6.1f}" if d0 is not None and d1 is not None else " " * 6
            p50, p95 = statistics.median(t), pct(t, 95)
            worst = max(worst, p95)
            line = f"{name:16} {p50:8.1f} {p95:8.1f} {cpu:7.1f} {db}"
            if base_path:
                b = timed(api, base_path, args.repeat, bearer)
                b50, b95 = statistics.median(b), pct(b, 95)
                line += f"   {base_path[:40]:40} {b50:7.1f} {b95:7.1f} {p95 / b95:9.2f}"
            else:
                line += "   (no API route)"
            print(line, flush=True)
        print(f"\nload average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        print(
            f"worst page p95: {worst:.1f} ms (target <= 200 ms): "
            + ("OK" if worst <= 200 else "MISSED")
        )
    finally:
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()
