"""The scene index beside the database: exhaustive when small, indexed when large,
caught up after a kill, rebuilt for another database, never trusting broken files."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import update

from tessera.demo.samples import synthetic_picture
from tessera.features.local import LocalFeatures, extract
from tessera.ingest.writer import write_batch
from tessera.matching import scene_store as scene_store_module
from tessera.matching.scene_store import BRUTE_FORCE_MAX, SceneStore
from tessera.pipeline.result import FileResult
from tessera.storage import repo
from tessera.storage.db import Database
from tessera.storage.models import IngestRun, Meta

N = BRUTE_FORCE_MAX + 48  # enough descriptors (~35 per picture) for a vocabulary


def _picture(seed: int) -> np.ndarray:
    return np.asarray(synthetic_picture(480, 360, seed))


def _result(seed: int, feats: LocalFeatures) -> FileResult:
    content = f"picture {seed}".encode()
    return FileResult(
        path=f"/p/{seed}.png",
        status="ok",
        size=len(content),
        md5=hashlib.md5(content).hexdigest(),
        sha1=hashlib.sha1(content).hexdigest(),
        sha256=hashlib.sha256(content).hexdigest(),
        format="png",
        width=480,
        height=360,
        features=feats.to_bytes(),
    )


def _write(db: Database, seeds: range) -> dict[int, int]:
    """Commit features of generated pictures; seed -> media id."""
    with db.session() as s:
        if repo.list_agencies(s) == []:
            repo.create_agency(s, "NL", "NL", "nl")
        a = repo.get_agency(s, "NL")
        c = repo.get_or_create_case(s, a, "c1")
        run = IngestRun(agency_id=a.id, case_id=c.id, root="/p")
        s.add(run)
        s.flush()
        results = [_result(i, extract(_picture(i))) for i in seeds]
        write_batch(s, run, results)
        found = repo.media_by_sha256(s, [bytes.fromhex(r.sha256 or "") for r in results])
        return {
            i: found[bytes.fromhex(r.sha256 or "")].id for i, r in zip(seeds, results, strict=True)
        }


def _db(folder: Path) -> Database:
    db = Database(f"sqlite:///{folder / 'db.sqlite'}")
    db.migrate()
    return db


@pytest.fixture(scope="module")
def crops() -> dict[int, LocalFeatures]:
    return {i: extract(_picture(i)[20:, 30:]) for i in (3, 40, N + 2)}


def test_small_collection_is_searched_exhaustively(
    tmp_path: Path, crops: dict[int, LocalFeatures]
) -> None:
    db = _db(tmp_path)
    ids = _write(db, range(10))
    store = SceneStore(db, tmp_path / "scene")
    assert store.status()["mode"] == "exhaustive" and store.status()["media"] == 10
    hits = store.similar([crops[3]])
    assert [h.media_id for h in hits][:1] == [ids[3]] and hits[0].match.relation == "copy"


def test_large_collection_uses_the_index_and_catches_up(
    tmp_path: Path, crops: dict[int, LocalFeatures], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = _db(tmp_path)
    ids = _write(db, range(N))
    folder = tmp_path / "scene"
    store = SceneStore(db, folder)
    st = store.status()
    assert st["mode"] == "index" and st["media"] == N and int(st["vocabulary"]) >= 64
    top = store.similar([crops[40]])
    assert top and top[0].media_id == ids[40] and top[0].match.relation == "copy"
    # every verified hit is also found by verifying everything (the index only shortlists)
    exhaustive = {h.media_id for h in _exhaustive(store, crops[40], monkeypatch)}
    assert {h.media_id for h in top} <= exhaustive
    # rows committed after the files were saved (a killed ingest) are caught up on open
    more = _write(db, range(N, N + 4))
    reopened = SceneStore(db, folder)
    assert reopened.status()["media"] == N + 4 and reopened.trained_on == store.trained_on
    assert reopened.similar([crops[N + 2]])[0].media_id == more[N + 2]
    assert json.loads((folder / "state.json").read_text())["last_id"] == reopened.last_id


def _exhaustive(store: SceneStore, q: LocalFeatures, monkeypatch: pytest.MonkeyPatch) -> list:  # type: ignore[type-arg]
    with monkeypatch.context() as m:
        m.setattr(scene_store_module, "BRUTE_FORCE_MAX", 10**9)
        return store.similar([q], k=100)


def test_files_of_another_database_or_broken_files_are_rebuilt(
    tmp_path: Path, crops: dict[int, LocalFeatures]
) -> None:
    db = _db(tmp_path)
    ids = _write(db, range(N))
    folder = tmp_path / "scene"
    SceneStore(db, folder)
    with db.session() as s:
        s.execute(update(Meta).where(Meta.key == "instance_id").values(value="another"))
    store = SceneStore(db, folder)
    assert store.instance == "another" and store.status()["media"] == N
    (folder / "manifest.json").write_text("{not json")
    store = SceneStore(db, folder)
    assert store.status()["media"] == N
    assert store.similar([crops[3]])[0].media_id == ids[3]
    # a state claiming rows the database does not have (an older backup) is rebuilt
    state = json.loads((folder / "state.json").read_text())
    state["last_id"] = 10**9
    (folder / "state.json").write_text(json.dumps(state))
    assert SceneStore(db, folder).last_id < 10**9


def test_second_stage_gives_the_same_answer_on_one_or_two_processes(tmp_path: Path) -> None:
    from tessera.matching.scene_triage import second_stage

    db = _db(tmp_path)
    ids = _write(db, range(N))
    store = SceneStore(db, tmp_path / "scene")
    files = [
        (k, FileResult(f"/q/{k}.png", "ok", features=extract(_picture(seed)[25:, :-30]).to_bytes()))
        for k, seed in enumerate((5, 17, 29, N - 1, 10**6))
    ]
    one = second_stage(db, store, files, workers=1).related
    two = second_stage(db, store, files, workers=2).related
    assert one == two
    assert {k: [r.media_id for r in one[k] if r.relation == "copy"][:1] for k in one} == {
        0: [ids[5]],
        1: [ids[17]],
        2: [ids[29]],
        3: [ids[N - 1]],
    }


def test_a_file_the_second_stage_fails_on_is_flagged_and_the_rest_go_on(tmp_path: Path) -> None:
    from tessera.matching.scene_triage import second_stage

    db = _db(tmp_path)
    ids = _write(db, range(N))
    store = SceneStore(db, tmp_path / "scene")
    for workers in (1, 2):
        good = [
            (k, FileResult(f"/q/{k}.png", "ok", features=extract(_picture(s)[25:]).to_bytes()))
            for k, s in ((0, 7), (2, 33), (3, 51))
        ]
        broken = (1, FileResult("/q/broken.png", "ok", features=b"TSLF" + b"\0" * 40))
        files = [good[0], broken, *good[1:]]
        out = second_stage(db, store, files, workers=workers)
        assert out.failed == {1}
        assert 1 not in out.related
        assert [out.related[k][0].media_id for k, _ in good] == [ids[7], ids[33], ids[51]]


def test_vocabulary_sample_is_drawn_row_by_row_and_ignores_rows_committed_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The training sample is what sampling every stored descriptor at once would give
    (the oracle below), without holding every descriptor; rows committed after the
    count are left for the next training."""
    db = _db(tmp_path)
    _write(db, range(N))
    with db.session() as s:
        blobs = [blob for _, _, blob, _ in repo.features_after(s, 0, 10**6)]
    descs = [LocalFeatures.from_bytes(b).desc for b in blobs]
    total = sum(len(d) for d in descs)
    monkeypatch.setattr(scene_store_module, "TRAIN_SAMPLE", total // 3)
    monkeypatch.setattr(scene_store_module, "MIN_TRAIN", 100)
    rng = np.random.default_rng(0)
    keep = (total // 3) / total
    oracle = np.concatenate([d[rng.random(len(d)) < keep] for d in descs if len(d)])
    assert 0 < len(oracle) < total

    seen: list[np.ndarray] = []
    real_train = scene_store_module.Vocabulary.train

    def capture(x: np.ndarray, k: int) -> object:
        seen.append(x)
        return real_train(x, k)

    monkeypatch.setattr(scene_store_module.Vocabulary, "train", staticmethod(capture))
    store = SceneStore(db, tmp_path / "scene")
    assert store.trained_on == N
    np.testing.assert_array_equal(seen[-1], oracle.astype(np.float32) / np.float32(512.0))

    # more rows committed once the count is done (a concurrent ingest)
    real_iter = SceneStore._iter_rows
    state = {"ends": 0}

    def iter_rows(self: SceneStore, after: int) -> list:  # type: ignore[type-arg]
        rows = real_iter(self, after)
        if not rows:
            state["ends"] += 1
            if state["ends"] == 1:  # the count has just finished
                _write(db, range(N, N + 6))
        return rows

    monkeypatch.setattr(SceneStore, "_iter_rows", iter_rows)
    store.rebuild()
    np.testing.assert_array_equal(seen[-1], oracle.astype(np.float32) / np.float32(512.0))
    assert store.trained_on == N and store.status()["media"] == N + 6
