"""Issue 9's user operations through the real entry point, on SQLite and PostgreSQL.

``lookup``, ``media show|list``, ``series edit|remove-media|delete|restore``,
``case show|edit|list``, ``agency show|edit``, ``runs`` and ``ingest undo``: each
``--json`` is one JSON document, errors end with the documented exit codes
(4 not found, 5 conflict, 2 bad values). Expected digests come from ``hashlib``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tessera.app import Caller
from tessera.app.audit import actor
from tessera.cli.main import main
from tessera.ingest.writer import write_batch
from tessera.storage.db import Database
from tessera.storage.models import IngestRun, utcnow
from tests.storage.conftest import db  # noqa: F401  (both backends)
from tests.storage.test_repo_contract import _file, _run

ME = actor(Caller.local_operator())
"""How changes made at this node's command line name who made them."""


class Tessera:
    """``tessera --db URL --home HOME ...`` in this process; returns (exit code, stdout)."""

    def __init__(self, url: str, home: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.base = ["--db", url, "--home", str(home)]
        self.capsys = capsys

    def __call__(self, *args: str | int) -> tuple[int, str]:
        self.capsys.readouterr()
        try:
            main([*self.base, *map(str, args)])
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        return code, self.capsys.readouterr().out

    def json(self, *args: str | int) -> Any:
        code, out = self(*args, "--json")
        assert code == 0, out
        return json.loads(out)  # exactly one document, or this raises

    def fails(self, expected: int, *args: str | int) -> None:
        code, out = self(*args)
        assert code == expected, out


def _picture(path: Path, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)
    Image.fromarray(np.kron(blocks, np.ones((20, 20, 1), dtype=np.uint8))).save(path, quality=95)
    return path


def _pdq(path: Path) -> str:
    """A made-up PDQ per content (not the picture's: that one is never stored here)."""
    return hashlib.sha256(b"pdq" + path.read_bytes()).hexdigest()


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture
def t(db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Tessera:  # noqa: F811
    """NL ingests p0, p1, p2 into series Amber (run 1); DE ingests p2 again and p3 (run 2)."""
    nl_dir, de_dir = tmp_path / "nl", tmp_path / "de"
    nl_dir.mkdir()
    de_dir.mkdir()
    for i in range(3):
        _picture(nl_dir / f"p{i}.jpg", i)
    (de_dir / "p2.jpg").write_bytes((nl_dir / "p2.jpg").read_bytes())
    _picture(de_dir / "p3.jpg", 3)
    tess = Tessera(db.url, tmp_path / "home", capsys)
    assert tess("init")[0] == 0
    assert tess("agency", "create", "NL-NPU", "--country", "NL", "--name", "VIT")[0] == 0
    assert tess("agency", "create", "DE-BKA", "--country", "DE", "--name", "BKA")[0] == 0
    assert tess("series", "create", "Amber", "--agency", "NL-NPU")[0] == 0
    # the runs are written as ingest writes them (its own tests cover walking and
    # hashing); PDQ values are made up, far from each other, so distances are known
    for folder, agency, case, series in (
        (nl_dir, "NL-NPU", "c1", "Amber"),
        (de_dir, "DE-BKA", "d1", None),
    ):
        run_id = _run(db, agency, case, series)
        with db.session() as s:
            run = s.get(IngestRun, run_id)
            assert run is not None
            files = sorted(folder.iterdir())
            write_batch(s, run, [_file(str(f), f.read_bytes(), _pdq(f)) for f in files])
            run.finished_at = utcnow()
    tess.nl_dir, tess.de_dir = nl_dir, de_dir  # type: ignore[attr-defined]
    return tess


def _ids(t: Tessera) -> dict[str, int]:
    """File name -> media id, through `lookup` by MD5 (from hashlib)."""
    out = {}
    for folder in (t.nl_dir, t.de_dir):  # type: ignore[attr-defined]
        for f in sorted(folder.iterdir()):
            r = t.json("lookup", _md5(f))["results"][0]
            out[f.name] = r["matches"][0]["media_id"]
    return out


def test_lookup_by_digest_and_pdq(t: Tessera) -> None:
    p0 = t.nl_dir / "p0.jpg"  # type: ignore[attr-defined]
    sha256 = hashlib.sha256(p0.read_bytes()).hexdigest()
    shown = t.json("media", "show", sha256)
    p0_id = shown["media"]["id"]
    doc = t.json("lookup", _md5(p0), hashlib.sha1(p0.read_bytes()).hexdigest(), "ab" * 16)
    known, known_sha1, unknown = doc["results"]
    assert (known["type"], known_sha1["type"], unknown["type"]) == ("md5", "sha1", "md5")
    assert [(m["media_id"], m["match"], m["distance"]) for m in known["matches"]] == [
        (p0_id, "exact", 0)
    ]
    assert [m["media_id"] for m in known_sha1["matches"]] == [p0_id]
    assert unknown["matches"] == [] and doc["matched"] == 2
    (amber,) = doc["series"]
    assert (amber["name"], amber["owner_code"], amber["victim_identified"]) == (
        "Amber",
        "NL-NPU",
        False,
    )
    assert known["matches"][0]["series"] == [amber["series_id"]]
    pdq = _pdq(p0)
    assert [f["value"] for f in shown["fingerprints"] if f["algorithm"] == "pdq"] == [pdq]
    flipped = f"{int(pdq[0], 16) ^ 0xF:x}{pdq[1:]}"  # 4 bits away
    (near,) = t.json("lookup", "--type", "pdq", flipped)["results"]
    assert near["type"] == "pdq"
    assert (near["matches"][0]["media_id"], near["matches"][0]["distance"]) == (p0_id, 4)
    far = t.json("lookup", "--radius", 3, "--type", "pdq", flipped)["results"][0]
    assert far["matches"] == []
    # 64 hex digits without --type: asked as SHA-256 and as PDQ
    as_sha, as_pdq = t.json("lookup", sha256)["results"]
    assert (as_sha["type"], as_pdq["type"]) == ("sha256", "pdq")
    assert [m["media_id"] for m in as_sha["matches"]] == [p0_id]
    t.fails(2, "lookup", "xyz")
    t.fails(2, "lookup", "--type", "md5", sha256)
    t.fails(2, "lookup", "--radius", 500, sha256)


def test_media_show_and_list(t: Tessera) -> None:
    ids = _ids(t)
    p2 = t.nl_dir / "p2.jpg"  # type: ignore[attr-defined]
    d = t.json("media", "show", _md5(p2))
    assert d["media"]["id"] == ids["p2.jpg"] and d["media"]["series"] == ["Amber"]
    assert d["media"]["submissions"] == 2
    seen = sorted(
        (s["agency_code"], s["case_number"], Path(s["original_path"]).name) for s in d["sightings"]
    )
    assert seen == [("DE-BKA", "d1", "p2.jpg"), ("NL-NPU", "c1", "p2.jpg")]
    assert {f["algorithm"] for f in d["fingerprints"]} >= {"pdq"}
    assert t.json("media", "show", ids["p2.jpg"])["media"]["md5"] == _md5(p2)
    t.fails(4, "media", "show", 99999)
    t.fails(2, "media", "show", "not-a-hash")
    everything = t.json("media", "list")
    assert [m["id"] for m in everything["items"]] == sorted(ids.values())
    assert everything["next_after"] is None
    first = t.json("media", "list", "--limit", 2)
    assert len(first["items"]) == 2 and first["next_after"] == first["items"][-1]["id"]
    rest = t.json("media", "list", "--limit", 2, "--after", first["next_after"])
    assert [m["id"] for m in first["items"] + rest["items"]] == sorted(ids.values())
    de = t.json("media", "list", "--agency", "DE-BKA")["items"]
    assert [m["id"] for m in de] == sorted([ids["p2.jpg"], ids["p3.jpg"]])
    c1 = t.json("media", "list", "--case", "c1")["items"]
    assert [m["id"] for m in c1] == sorted([ids["p0.jpg"], ids["p1.jpg"], ids["p2.jpg"]])
    amber = t.json("media", "list", "--series", "Amber")["items"]
    assert [m["id"] for m in amber] == [m["id"] for m in c1]
    t.fails(4, "media", "list", "--series", "Nope")
    t.fails(4, "media", "list", "--case", "nope")
    t.fails(2, "media", "list", "--limit", 0)


def test_series_edit_remove_delete_restore(t: Tessera) -> None:
    ids = _ids(t)
    assert t("series", "create", "Coral", "--agency", "NL-NPU")[0] == 0
    st = t.json(
        "series", "edit", "Amber", "--rename", "Amber 2", "--notes", "n", "--category", 2,
        "--baseline",
    )  # fmt: skip
    assert (st["name"], st["category"], st["baseline"], st["media_count"]) == (
        "Amber 2",
        2,
        True,
        3,
    )
    t.fails(5, "series", "edit", "Amber 2", "--rename", "Coral")
    t.fails(4, "series", "edit", "Amber", "--notes", "x")
    t.fails(2, "series", "edit", "Amber 2", "--category", -1)
    t.fails(2, "series", "edit", "Amber 2")
    r = t.json("series", "remove-media", "Amber 2", ids["p0.jpg"])
    assert r["media_ids"] == [ids["p0.jpg"]] and r["removed_by"] == ME
    t.fails(4, "series", "remove-media", "Amber 2", ids["p0.jpg"], ids["p1.jpg"])  # p0 left
    members = t.json("media", "list", "--series", "Amber 2")["items"]
    assert [m["id"] for m in members] == sorted([ids["p1.jpg"], ids["p2.jpg"]])
    assert t.json("series", "show", "Amber 2")["media_count"] == 2
    assert t.json("series", "delete", "Amber 2")["deleted"] is True
    t.fails(4, "series", "show", "Amber 2")
    t.fails(4, "series", "delete", "Amber 2")
    assert [s["name"] for s in t.json("series", "list")] == ["Coral"]
    doc = t.json("lookup", _md5(t.nl_dir / "p1.jpg"))  # type: ignore[attr-defined]
    assert doc["results"][0]["matches"][0]["series"] == [] and doc["series"] == []
    t.fails(5, "series", "create", "Amber 2", "--agency", "NL-NPU")
    (gone,) = t.json("series", "deleted")
    assert (gone["name"], gone["owner_code"], gone["deleted_by"]) == ("Amber 2", "NL-NPU", ME)
    assert t.json("series", "restore", "Amber 2")["media_count"] == 2
    assert t.json("series", "deleted") == []
    t.fails(4, "series", "restore", "Amber 2")  # no longer deleted


def test_cases_agencies_and_runs(t: Tessera) -> None:
    cases = t.json("case", "list")
    assert [(c["agency_code"], c["number"], c["sightings"], c["media"]) for c in cases] == [
        ("DE-BKA", "d1", 2, 2),
        ("NL-NPU", "c1", 3, 3),
    ]
    c1 = t.json("case", "edit", "c1", "--title", "Op. Amber")
    assert c1["title"] == "Op. Amber" and t.json("case", "show", "c1")["title"] == "Op. Amber"
    assert t("case", "create", "x")[0] == 2  # no such subcommand: usage error
    t.fails(4, "case", "show", "nope")
    t.fails(4, "case", "list", "--agency", "XX")
    a = t.json("agency", "show", "NL-NPU")
    assert (a["series"], a["cases"], a["sightings"], a["media"]) == (1, 1, 3, 3)
    a = t.json("agency", "edit", "NL-NPU", "--contact", "vit@example.org", "--country", "be")
    assert (a["contact"], a["country"]) == ("vit@example.org", "BE")
    t.fails(2, "agency", "edit", "NL-NPU", "--country", "Belgium")
    t.fails(4, "agency", "show", "XX")
    runs = t.json("runs")
    assert [(r["agency_code"], r["state"]) for r in runs] == [
        ("DE-BKA", "finished"),
        ("NL-NPU", "finished"),
    ]
    assert runs[1]["counts"] == {
        "new": 3, "known": 0, "error": 0, "skipped": 0, "files": 3, "sightings": 3,
    }  # fmt: skip
    assert runs[0]["counts"]["known"] == 1 and runs[0]["counts"]["new"] == 1


def test_ingest_undo_removes_only_what_the_run_added(t: Tessera) -> None:
    ids = _ids(t)
    nl_run = next(r["id"] for r in t.json("runs") if r["agency_code"] == "NL-NPU")
    before = t.json("stats")
    assert t("index", "rebuild")[0] == 0  # the index files hold every PDQ, as after ingest
    r = t.json("ingest", "undo", nl_run)
    assert r["sightings_removed"] == 3
    assert r["media_removed"] == sorted([ids["p0.jpg"], ids["p1.jpg"]])  # p2: DE saw it too
    assert r["index_entries_removed"] == 2
    nl = t.nl_dir  # type: ignore[attr-defined]
    found = t.json("lookup", _md5(nl / "p0.jpg"), _md5(nl / "p2.jpg"))["results"]
    assert [[m["media_id"] for m in x["matches"]] for x in found] == [[], [ids["p2.jpg"]]]
    t.fails(4, "media", "show", ids["p0.jpg"])
    code, out = t("triage", nl / "p0.jpg", nl / "p2.jpg", "--json", "--no-scenes", "--workers", 1)
    triaged = {Path(r["path"]).name: r for r in json.loads(out)["results"]}
    assert code == 10 and triaged["p2.jpg"]["status"] == "known"
    assert triaged["p0.jpg"]["status"] == "new"  # neither exact nor PDQ: p0 is gone
    after = t.json("stats")
    assert (before["media"], after["media"]) == (4, 2)
    assert (before["sightings"], after["sightings"]) == (5, 2)
    assert t.json("media", "show", ids["p2.jpg"])["media"]["submissions"] == 1
    states = {x["id"]: (x["state"], x["undone_by"]) for x in t.json("runs")}
    assert states[nl_run] == ("undone", ME)
    entries = t.json("audit", "show")
    entries = entries["entries"] if isinstance(entries, dict) else entries
    assert [(e["action"], e["target"]) for e in entries if e["action"] == "ingest.undo"] == [
        ("ingest.undo", f"run:{nl_run}")
    ]
    t.fails(5, "ingest", "undo", nl_run)
    t.fails(4, "ingest", "undo", 999)
    # the same folder again: a new run, the media back under fresh index entries
    code, out = t("ingest", nl, "--agency", "NL-NPU", "--case", "c1", "--workers", 1,
                  "--no-features", "--no-progress")  # fmt: skip
    assert code == 0, out
    assert t.json("lookup", _md5(nl / "p0.jpg"))["results"][0]["matches"] != []
    assert len(t.json("runs")) == 3
