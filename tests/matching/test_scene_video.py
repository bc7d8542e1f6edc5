"""Video key frames get local features: a mirrored, cropped still from a known video is
near it (with the frame's time), through ingest's writer and the scene store."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from tessera.ingest.writer import write_batch
from tessera.matching.scene_store import SceneStore
from tessera.matching.scene_triage import second_stage
from tessera.media.video import iter_frames
from tessera.pipeline.fingerprint import hash_file
from tessera.pipeline.options import HashOptions
from tessera.storage import repo
from tessera.storage.db import Database
from tessera.storage.models import FingerprintModel, IngestRun


def test_still_from_a_video_is_found_at_its_key_frame(tmp_path: Path, vectors_dir: Path) -> None:
    video = tmp_path / "doorknob.mp4"
    shutil.copy(vectors_dir / "videos" / "doorknob-hd-no-bar.mp4", video)
    r = hash_file(video, HashOptions(features=True))
    assert r.status == "ok" and r.kind == "video" and r.frame_features
    times = [t for t, _ in r.frame_features]
    assert times == sorted(times) and 2 <= len(times) <= 6
    db = Database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    db.migrate()
    with db.session() as s:
        a = repo.create_agency(s, "NL", "NL", "nl")
        c = repo.get_or_create_case(s, a, "c1")
        run = IngestRun(agency_id=a.id, case_id=c.id, root=str(tmp_path))
        s.add(run)
        s.flush()
        out = write_batch(s, run, [r])
        assert sorted(p for *_, p in out.new_features) == [round(t * 1000) + 1 for t in times]
        media_id = repo.media_by_sha256(s, [bytes.fromhex(r.sha256 or "")])[
            bytes.fromhex(r.sha256 or "")
        ].id
        assert s.query(FingerprintModel).filter_by(algorithm="rootsift").count() == len(times)
    # a still of the second feature frame, mirrored and cropped by 10 %
    target = times[1]
    frame = next(f for f in iter_frames(video) if abs(f.timestamp_s - target) < 1e-6)
    h, w = frame.rgb.shape[:2]
    still = np.ascontiguousarray(frame.rgb[int(0.1 * h) :, int(0.1 * w) :][:, ::-1])
    path = tmp_path / "still.png"
    Image.fromarray(still).save(path)
    q = hash_file(path, HashOptions(features=True, features_mirrored=True))
    store = SceneStore(db, tmp_path / "scene")
    found = second_stage(db, store, [(0, q)]).related[0]
    copy = next(rel for rel in found if rel.relation == "copy")
    assert copy.media_id == media_id and copy.detail["mirrored"] is True
    assert copy.detail["time_s"] == round(target, 3)
    assert hashlib.sha256(path.read_bytes()).hexdigest() != r.sha256
