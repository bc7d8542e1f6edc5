"""The requests a Meta HMA client sends, and HMA 2.x's response shapes.

Requests are built the way HMA's own tests and clients build them (query strings,
multipart field ``photo``); the expected PDQ values come from the shared
ThreatExchange vectors (python-threatexchange's pipeline), not from Tessera.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path

import pytest

from tessera.app import App
from tests.api.conftest import AUTH, Served
from tests.seeding import seed


def _pytx(vectors_dir: Path) -> dict[str, str]:
    with (vectors_dir / "pdq/expected/pytx_pipeline.csv").open() as f:
        return {row["file"]: row["hash"] for row in csv.DictReader(f)}


def _distance(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


@pytest.fixture
def bridge(served: Served, vectors_dir: Path) -> dict[str, object]:
    expected = _pytx(vectors_dir)
    orig = "pdq/images/bridge-mods/aaa-orig.jpg"
    content = (vectors_dir / orig).read_bytes()
    with App(served.settings) as app:
        (item,) = seed(app.db, [(content, expected[orig])], series="BRIDGE_BANK", case="B-1")
    # the served index takes the new row at its next poll: wait for it, as a client would
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        r = served.client.get(
            "/api/v1/lookup", params={"type": "pdq", "hash": expected[orig]}, headers=AUTH
        )
        if r.status_code == 200 and r.json()["results"][0]["matches"]:
            break
        time.sleep(0.05)
    return {"item": item, "expected": expected, "dir": vectors_dir}


def test_hash_upload_gives_pytx_pdq(served: Served, bridge: dict) -> None:
    vectors_dir, expected = bridge["dir"], bridge["expected"]
    name = "pdq/images/bridge-mods/shrink-a-little.jpg"
    with (vectors_dir / name).open("rb") as f:
        r = served.client.post("/h/hash", files={"photo": (f.name, f, "image/jpeg")}, headers=AUTH)
    assert r.status_code == 200, r.text
    assert r.json() == {"pdq": expected[name]}
    r = served.client.post(
        "/h/hash",
        params={"types": "pdq,md5"},
        files={"photo": ("x.jpg", (vectors_dir / name).read_bytes(), "image/jpeg")},
        headers=AUTH,
    )
    assert set(r.json()) == {"pdq", "md5"}
    none = served.client.post("/h/hash", headers=AUTH)
    assert none.status_code == 422  # no file


def test_lookup_by_signal_returns_banks_with_string_distances(served: Served, bridge: dict) -> None:
    item, expected = bridge["item"], bridge["expected"]
    probe = expected["pdq/images/bridge-mods/blur-a-little.jpg"]
    r = served.client.get(f"/m/lookup?signal_type=pdq&signal={probe}", headers=AUTH)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "BRIDGE_BANK": [
            {"bank_content_id": item.media_id, "distance": str(_distance(probe, item.pdq))}
        ]
    }
    only_other = served.client.get(
        f"/m/lookup?signal_type=pdq&signal={probe}&banks=Series%20Amber", headers=AUTH
    )
    assert only_other.json() == {}
    by_md5 = served.client.get(
        f"/m/lookup?signal_type=video_md5&signal={item.md5}", headers=AUTH
    ).json()
    assert by_md5 == {"BRIDGE_BANK": [{"bank_content_id": item.media_id, "distance": "0"}]}
    bad = served.client.get("/m/lookup?signal_type=pdq&signal=banana", headers=AUTH)
    assert bad.status_code == 422 and "signal" in bad.json()["detail"]
    unknown = served.client.get(f"/m/lookup?signal_type=tmk&signal={probe}", headers=AUTH)
    assert unknown.status_code == 422 and "signal_type" in unknown.json()["detail"]
    fetch = served.client.get("/m/lookup?url=http://127.0.0.1/x.jpg", headers=AUTH)
    assert fetch.status_code == 422  # the server never fetches media


def test_lookup_upload_hashes_and_matches(served: Served, bridge: dict) -> None:
    item, vectors_dir, expected = bridge["item"], bridge["dir"], bridge["expected"]
    name = "pdq/images/bridge-mods/high-contrast.jpg"
    with (vectors_dir / name).open("rb") as f:
        files = {"photo": (f.name, f, "image/jpeg")}
        r = served.client.post("/m/lookup", files=files, headers=AUTH)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "pdq": {
            "BRIDGE_BANK": [
                {
                    "bank_content_id": item.media_id,
                    "distance": str(_distance(expected[name], item.pdq)),
                }
            ]
        }
    }


def test_raw_lookup_both_forms(served: Served, bridge: dict) -> None:
    item = bridge["item"]
    q = {"signal": item.pdq, "signal_type": "pdq"}
    r = served.client.get("/m/raw_lookup", params=q, headers=AUTH)
    assert r.json() == {"matches": [item.media_id]}
    r = served.client.get("/m/raw_lookup", params={**q, "include_distance": True}, headers=AUTH)
    assert r.json() == {"matches": [{"bank_content_id": item.media_id, "distance": "0"}]}
    missing = served.client.get("/m/raw_lookup", params={"signal": item.pdq}, headers=AUTH)
    assert missing.status_code == 422 and "signal_type" in missing.json()["detail"]


def test_index_status_and_banks(served: Served, bridge: dict) -> None:
    st = served.client.get("/m/index/status", headers=AUTH)
    assert st.status_code == 200
    body = st.json()
    assert set(body) == {"pdq"} and set(body["pdq"]) == {"built_to", "present", "size"}
    assert body["pdq"]["present"] is True and isinstance(body["pdq"]["built_to"], int)
    assert body["pdq"]["size"] >= 9
    banks = served.client.get("/c/banks", headers=AUTH).json()
    assert banks == [
        {"name": n, "matching_enabled_ratio": 1.0}
        for n in ("BRIDGE_BANK", "Series Amber", "Series Birch")
    ]
