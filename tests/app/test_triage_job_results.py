"""A finished triage job's files, filtered, sorted and paged in SQL (``results_page``),
on SQLite and PostgreSQL; the API's whole report is the same document as before
(the head and the per-file lines, in report order).

The expected orders are computed here from the whole report (``status``), in
Python, independently of the SQL that answers ``results_page``.
"""

from __future__ import annotations

import hashlib
import random
from typing import Any

import pytest

from tessera.app import App, Caller, Role
from tessera.app import triage_jobs as jobs
from tessera.errors import InvalidInput, NotFound
from tests.seeding import flip_bits, random_pdq, seed

NL = Caller(role=Role.ANALYST, user_id=None, email="a@nl.example.org", agency_code="NL-NPU")
OTHER = Caller(role=Role.ANALYST, user_id=None, email="b@nl.example.org", agency_code="NL-NPU")


def _record(path: str, content: bytes, pdq: str | None) -> dict[str, Any]:
    return {
        "path": path,
        "status": "ok",
        "size": len(content),
        "md5": hashlib.md5(content).hexdigest(),
        "sha1": hashlib.sha1(content).hexdigest(),
        "sha256": hashlib.sha256(content).hexdigest(),
        "pdq": pdq,
        "quality": 100 if pdq else None,
        "format": "jpeg",
        "flags": [],
        "error": None,
    }


@pytest.fixture
def done_job(app: App) -> str:
    rng = random.Random(7)
    amber = seed(app.db, [(f"amber-{i}".encode(), random_pdq(rng)) for i in range(3)])
    birch = seed(
        app.db,
        [(f"birch-{i}".encode(), random_pdq(rng)) for i in range(2)],
        agency="DE-BKA",
        series="Series Birch",
        case="DE-1",
    )
    twin = random_pdq(rng)
    records = [
        _record("z/new-1.jpg", b"new one", random_pdq(rng)),
        _record("a/amber-0.jpg", amber[0].content, amber[0].pdq),
        _record("m/birch-1.jpg", birch[1].content, birch[1].pdq),
        _record("b/amber-1-edited.jpg", b"edited", flip_bits(amber[1].pdq or "", [3, 9, 77])),
        _record("c/twin-a.jpg", b"twin", twin),
        {"path": "e/broken.jpg", "status": "error", "error": {"reason": "truncated"}},
        _record("d/twin-b.jpg", b"twin", twin),
        _record("y/new-2.jpg", b"new two", random_pdq(rng)),
        _record("a/amber-2.jpg", amber[2].content, amber[2].pdq),
    ]
    job = jobs.submit(app, NL, records)
    assert jobs.run_one(app)
    return job.id


def _distance(item: dict[str, Any]) -> int:
    d = [m["distance"] for m in item["matches"] if m["distance"] is not None]
    return min(d) if d else 1 << 16


def _series(item: dict[str, Any]) -> str:
    names = [n for m in item["matches"] for n in m["series"]]
    return min(names) if names else ""


def test_results_are_filtered_sorted_and_paged_in_sql(app: App, done_job: str) -> None:
    whole = jobs.status(app, NL, done_job)
    assert whole.state == "done" and whole.result is not None
    items = whole.result["results"]
    assert [it["path"] for it in items][:3] == ["z/new-1.jpg", "a/amber-0.jpg", "m/birch-1.jpg"]
    assert list(whole.result)[-1] == "results"  # the document's shape as before
    status = {it["path"]: it["status"] for it in items}
    assert status["a/amber-0.jpg"] == "known" and status["b/amber-1-edited.jpg"] == "near"
    assert status["e/broken.jpg"] == "error" and status["z/new-1.jpg"] == "new"
    seq = {it["path"]: n for n, it in enumerate(items)}

    def paths(**kw: Any) -> list[str]:
        page = jobs.results_page(app, NL, done_job, limit=100, **kw)
        return [f["path"] for f in page.files]

    assert paths() == [it["path"] for it in items]
    for show in ("known", "near", "new", "error"):
        want = [it["path"] for it in items if it["status"] == show]
        assert paths(show=show) == want
        assert jobs.results_page(app, NL, done_job, show=show).total == len(want)
        assert whole.result["summary"][show] == len(want)
    assert paths(sort="path") == sorted(status)
    assert paths(sort="path", descending=True) == sorted(status, reverse=True)
    by = {it["path"]: it for it in items}
    for key, fn in (("status", lambda p: by[p]["status"]), ("series", lambda p: _series(by[p]))):
        assert paths(sort=key) == sorted(status, key=lambda p: (fn(p), seq[p]))
        assert paths(sort=key, descending=True) == sorted(
            status, key=lambda p: (fn(p), seq[p]), reverse=True
        )
    assert paths(sort="distance") == sorted(status, key=lambda p: (_distance(by[p]), seq[p]))
    # pages of 2 neither skip nor repeat a file
    pages = [
        [
            f["path"]
            for f in jobs.results_page(app, NL, done_job, sort="status", limit=2, offset=o).files
        ]
        for o in range(0, 10, 2)
    ]
    assert [p for page in pages for p in page] == paths(sort="status")


def test_new_groups_of_the_page(app: App, done_job: str) -> None:
    page = jobs.results_page(app, NL, done_job, show="new", sort="path")
    twins = {f["new_group"] for f in page.files if f["path"].endswith(("twin-a.jpg", "twin-b.jpg"))}
    assert len(twins) == 1
    (group,) = twins
    assert page.groups[group] == (2, ["c/twin-a.jpg", "d/twin-b.jpg"])
    head = page.head
    assert "results" not in head and head["summary"]["new_groups"] == len(head["new_groups"])


def test_bad_parameters_and_other_users(app: App, done_job: str) -> None:
    with pytest.raises(InvalidInput, match="sort"):
        jobs.results_page(app, NL, done_job, sort="item")
    with pytest.raises(InvalidInput, match="show"):
        jobs.results_page(app, NL, done_job, show="skipped")
    with pytest.raises(NotFound):
        jobs.results_page(app, OTHER, done_job)
    light = jobs.status(app, NL, done_job, with_result=False)
    assert light.state == "done" and light.result is None
