"""Triage for a network caller: matches, series and leads as the sharing rules allow."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tessera.app import App, Caller, Role, triage
from tests.app.sharing_world import CALLER_AGENCY, EXPECTED, RANK, RESOURCES, build, secrets


@pytest.fixture
def seizure(app: App, tmp_path: Path) -> Path:
    with app.transaction() as s:
        build(s)
    folder = tmp_path / "seizure"
    folder.mkdir()
    for res in RESOURCES:  # the world's media are the SHA-256 of these bytes
        (folder / f"{res}.bin").write_bytes(res.encode())
    return folder


def test_triage_shows_each_match_at_its_level(app: App, seizure: Path) -> None:
    b = Caller(role=Role.ANALYST, user_id=3, email="t@b.example", agency_code=CALLER_AGENCY)
    report = triage.run(app, b, [seizure], scenes=False, workers=1)
    by_res = {Path(it.path).stem: it for it in report.items}
    for res, level in EXPECTED.items():
        it = by_res[res]
        if level == "none":
            assert it.status == "new" and it.matches == [], res
            continue
        assert it.status == "known", res
        (m,) = it.matches
        assert m.series == ((f"S-{res}",) if RANK[level] >= RANK["status"] else ()), res
    assert {h.status.name for h in report.series} == {
        f"S-{r}" for r, lv in EXPECTED.items() if RANK[lv] >= RANK["status"]
    }
    text = json.dumps(
        {
            "items": [it.to_json() for it in report.items],
            "series": [h.to_json() for h in report.series],
        },
        default=str,
    )
    for res, level in EXPECTED.items():
        for need, words in secrets(res).items():
            if RANK[level] < RANK[need]:
                assert not any(w in text for w in words), (res, need)
    everything = triage.run(app, Caller.local_operator(), [seizure], scenes=False, workers=1)
    assert all(it.status == "known" for it in everything.items)
    assert len(everything.series) == len(RESOURCES)
