"""``/api/v1/similar`` and ``/api/v1/media/{id}/similar``: what a client sends is
checked before any geometry runs (422 naming the problem), and what the caller may
not see is a 404 like what never existed. Answers equal to the use case's are
checked against a real server in ``test_serve.py``."""

from __future__ import annotations

import base64
import struct

import numpy as np
import pytest

from tessera.app import App, Caller
from tessera.app.sharing import share_series
from tessera.features.local import LocalFeatures
from tests.api.conftest import AUTH, Served


def _features(n: int, *, width: int = 640, height: int = 480) -> LocalFeatures:
    rng = np.random.default_rng(n)
    xy = (rng.random((n, 2)) * [width - 1, height - 1]).astype(np.float32)
    desc = rng.integers(0, 80, (n, 128), dtype=np.uint8)
    size = np.full(n, 4.0, np.float16)
    angle = np.zeros(n, np.float16)
    return LocalFeatures(xy, desc, size, angle, width, height)


def _b64(blob: bytes) -> str:
    return base64.b64encode(blob).decode()


def _post(served: Served, body: dict[str, object]) -> tuple[int, dict[str, object]]:
    r = served.client.post("/api/v1/similar", json=body, headers=AUTH)
    return r.status_code, r.json()


def test_sent_features_are_searched(served_module: Served) -> None:
    code, body = _post(
        served_module, {"features": [_b64(_features(50).to_bytes_full())], "limit": 3}
    )
    assert code == 200, body
    assert body["status"] == "ok" and body["hits"] == []
    assert body["query"] == {"media_id": None, "box": None}  # no path: the client's own
    sha = served_module.items[0].sha256
    code, body = _post(served_module, {"features": [_b64(_features(9).to_bytes())], "sha256": sha})
    assert code == 200, body
    assert body["query"]["media_id"] == served_module.items[0].media_id  # its own stored copy


def _nan_blob() -> bytes:
    f = _features(10)
    xy = f.xy.copy()
    xy[3, 0] = np.nan
    return LocalFeatures(xy, f.desc, f.size, f.angle, f.width, f.height).to_bytes_full()


def _lying_count() -> bytes:  # the header claims more keypoints than the blob holds
    blob = bytearray(_features(10).to_bytes_full())
    struct.pack_into("<I", blob, 8, 1_000_000)
    return bytes(blob)


@pytest.mark.parametrize(
    ("features", "says"),
    [
        (["not base64!"], "base64"),
        ([_b64(b"TSLF")], "truncated"),
        ([_b64(b"\0" * 40)], "magic"),
        ([_b64(_lying_count())], "expected"),
        ([_b64(_nan_blob())], "non-finite"),
        ([_b64(_features(5000).to_bytes_full())], "at most"),
        ([_b64(_features(10, width=0).to_bytes_full())], "frame"),
        ([], "features"),
        ([_b64(_features(10).to_bytes_full())] * 3, "features"),
    ],
)
def test_hostile_features_are_refused_naming_why(
    served_module: Served, features: list[str], says: str
) -> None:
    code, body = _post(served_module, {"features": features})
    assert code == 422, body
    assert says in str(body)


def test_bad_fields_are_422(served_module: Served) -> None:
    blob = _b64(_features(10).to_bytes_full())
    for extra in ({"sha256": "xyz"}, {"box": [5, 5, 1, 1]}, {"limit": 0}, {"path": "/x"}):
        code, body = _post(served_module, {"features": [blob], **extra})
        assert code == 422, (extra, body)


def test_media_route_hides_what_the_caller_may_not_see(served_module: Served) -> None:
    with App(served_module.settings) as app:
        share_series(app, Caller.local_operator(), "Series Birch", "none", network=True)
    theirs, mine = (
        served_module.items[5],
        served_module.items[0],
    )  # DE-BKA's Series Birch, NL's Amber
    get = served_module.client.get
    unseen = get(f"/api/v1/media/{theirs.media_id}/similar", headers=AUTH)
    never = get("/api/v1/media/99999999/similar", headers=AUTH)
    assert unseen.status_code == never.status_code == 404
    assert unseen.json()["detail"].replace(str(theirs.media_id), "N") == never.json()[
        "detail"
    ].replace("99999999", "N")
    own = get(f"/api/v1/media/{mine.media_id}/similar", headers=AUTH)
    assert own.status_code == 404 and "no local features" in own.json()["detail"]
    bad_box = get(f"/api/v1/media/{mine.media_id}/similar?box=1,2,3", headers=AUTH)
    assert bad_box.status_code == 422
