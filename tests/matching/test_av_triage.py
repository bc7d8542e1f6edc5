"""Video and audio through ingest and triage: segments with offsets, bars, shared audio."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import av
import pytest

pytestmark = pytest.mark.chromaprint  # skipped, naming the package, without it

TESSERA = str(Path(sys.executable).parent / "tessera")


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TESSERA, "--home", str(home), *args], capture_output=True, text=True, timeout=600
    )


def _excerpt_mp3(src: Path, dst: Path, start: float, end: float) -> None:
    """Re-encode [start, end) s of src's audio to a 64 kbit/s MP3."""
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        stream = out.add_stream("mp3", rate=44100)
        stream.bit_rate = 64000
        res = av.AudioResampler(format="s16p", layout="stereo", rate=44100)
        for frame in inp.decode(inp.streams.audio[0]):
            if frame.time is None or frame.time < start:
                continue
            if frame.time >= end:
                break
            for r in res.resample(frame):
                r.pts = None
                for p in stream.encode(r):
                    out.mux(p)
        for p in stream.encode(None):
            out.mux(p)


@pytest.fixture(scope="module")
def av_world(
    tmp_path_factory: pytest.TempPathFactory, vectors_dir: Path, data_dir: Path
) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("av")
    known, query, home = root / "known", root / "query", root / "home"
    known.mkdir()
    query.mkdir()
    videos = vectors_dir / "videos"
    music = data_dir / "audio-librosa-open-clips" / "Kevin_MacLeod_-_Vibe_Ace.hq.ogg"
    for name in ("chair-22-sd-grey-bar.mp4", "pattern-longer-no-bar.mp4"):
        shutil.copy(videos / name, known / name)
    shutil.copy(music, known / "music.ogg")
    for name in ("chair-20-sd-bar.mp4", "pattern-sd-grey-bar.mp4"):
        shutil.copy(videos / name, query / name)
    _excerpt_mp3(music, query / "excerpt-10-25s.mp3", 10.0, 25.0)
    for step in (
        ("init",),
        ("agency", "create", "NL", "--country", "NL", "--name", "nl"),
        ("series", "create", "Clips", "--agency", "NL"),
        ("ingest", str(known), "--agency", "NL", "--case", "1", "--series", "Clips"),
    ):
        r = _cli(home, *step)
        assert r.returncode == 0, (step, r.stdout, r.stderr)
    r = _cli(home, "triage", str(query), "--json", "--no-progress")
    assert r.returncode == 10, r.stderr
    return {"doc": Path(root / "triage.json"), "text": r.stdout, "home": home}  # type: ignore[dict-item]


def _results(world: dict[str, Path]) -> dict[str, dict]:  # type: ignore[type-arg]
    doc = json.loads(str(world["text"]))
    return {Path(r["path"]).name: r for r in doc["results"]}


def test_clip_found_inside_longer_video_with_offsets(av_world: dict[str, Path]) -> None:
    """chair-20 is a cut of chair-22 (grey, bars): found as a segment, offsets within 1 s."""
    r = _results(av_world)["chair-20-sd-bar.mp4"]
    assert r["status"] == "near"
    seg_matches = [m for m in r["matches"] if m["via"] == "vpdq-segment"]
    assert seg_matches, r["matches"]
    seg = seg_matches[0]["segments"][0]
    # every chair-20 frame appears in chair-22 about 2 s later (upstream every-frame hashes)
    assert abs(seg["offset"] - 2.0) <= 1.0
    assert seg["matched_duration"] >= 15.0
    assert seg["query_start"] <= 1.0 and seg["compared_start"] == pytest.approx(
        seg["query_start"] + seg["offset"], abs=1.0
    )


def test_barred_copy_matches_bar_free_original(av_world: dict[str, Path]) -> None:
    """pattern-sd-grey-bar (bars, grey) matches pattern-longer-no-bar after cropping bars."""
    r = _results(av_world)["pattern-sd-grey-bar.mp4"]
    assert r["status"] == "near"
    assert any(m["via"] == "vpdq-segment" for m in r["matches"])


def test_audio_excerpt_found_with_offset(av_world: dict[str, Path]) -> None:
    """A 15 s MP3 excerpt re-encoded at 64 kbit/s is found in the OGG at 10 s."""
    r = _results(av_world)["excerpt-10-25s.mp3"]
    assert r["status"] == "near"
    audio = [m for m in r["matches"] if m["via"] == "audio"]
    assert audio and abs(audio[0]["offset"] - 10.0) <= 0.2
    assert audio[0]["matched_duration"] >= 10.0


def test_video_json_carries_frames_and_audio(vectors_dir: Path, tmp_path: Path) -> None:
    """tessera hash on a video reports kind, duration, crop, vPDQ frames and audio."""
    r = subprocess.run(
        [
            TESSERA,
            "hash",
            "--json",
            "--workers",
            "1",
            str(vectors_dir / "videos" / "chair-19-sd-bar.mp4"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    res = json.loads(r.stdout)["results"][0]
    assert res["status"] == "ok" and res["kind"] == "video"
    assert 18 < res["duration"] < 19.5
    assert res["crop"] is not None and res["crop"][2] > 0  # pillarbox bars removed
    assert 30 <= len(res["vpdq"]) <= 45  # 2 frames per second
    assert res["audio"].startswith("chromaprint:")
