"""Video decoding: sampling, limits, damaged input, and agreement with upstream vPDQ."""

from __future__ import annotations

import csv
import random
import struct
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from tessera.errors import (
    CorruptMedia,
    EmptyFile,
    MediaError,
    MediaTooLarge,
    UnreadableFile,
    UnsupportedMedia,
)
from tessera.fingerprints.pdq import pdq_hash_rgb
from tessera.fingerprints.vpdq import FrameHash, loads, match
from tessera.media.video import (
    DecodeStats,
    Sampling,
    VideoLimits,
    iter_frames,
    probe_video,
    sniff_container,
)
from tessera.media.vpdq_file import DEFAULT_SAMPLING, blas_threads, vpdq_from_video

# --- generated media ------------------------------------------------------------------


def _picture(i: int, w: int, h: int) -> np.ndarray:
    """Smooth, moving content (codec-friendly, so PDQ survives the encode)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.empty((h, w, 3), np.float32)
    img[..., 0] = 128 + 90 * np.sin(xx / 17 + i / 7) * np.cos(yy / 23)
    img[..., 1] = 128 + 90 * np.cos((xx + yy) / 29 - i / 11)
    img[..., 2] = 60 + yy * 0.8
    x0 = (i * 3) % max(1, w - 40)
    img[h // 3 : h // 3 + 40, x0 : x0 + 40] = (250, 240, 20)
    return np.clip(img, 0, 255).astype(np.uint8)


def make_video(
    path: Path,
    codec: str = "libx264",
    *,
    n: int = 60,
    size: tuple[int, int] = (160, 120),
    fps: int = 30,
    pts_ms: list[int] | None = None,
    options: dict[str, str] | None = None,
    container_options: dict[str, str] | None = None,
) -> Path:
    """A small test video; ``pts_ms`` gives explicit (variable-rate) timestamps."""
    w, h = size
    with av.open(str(path), "w", options=container_options or {}) as out:
        s = out.add_stream(codec, rate=fps)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        s.bit_rate = 2_000_000  # FFmpeg's 200 kb/s default smears mpeg4/vp8 test pictures
        if options:
            s.options = options
        if pts_ms is not None:
            s.codec_context.time_base = Fraction(1, 1000)
        count = len(pts_ms) if pts_ms is not None else n
        for i in range(count):
            frame = av.VideoFrame.from_ndarray(_picture(i, w, h), format="rgb24")
            if pts_ms is not None:
                frame.pts = pts_ms[i]
                frame.time_base = Fraction(1, 1000)
            for p in s.encode(frame):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    return path


CODECS = [
    c
    for c in (("libx264", "mp4"), ("mpeg4", "avi"), ("libvpx", "webm"), ("libx264", "mkv"))
    if c[0] in av.codecs_available
]


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("video")
    out = {f"{c}.{e}": make_video(d / f"v_{c}.{e}", c) for c, e in CODECS}
    out["faststart.mp4"] = make_video(
        d / "faststart.mp4", n=90, container_options={"movflags": "faststart"}
    )
    out["bframes.mp4"] = make_video(
        d / "bframes.mp4", n=90, options={"bf": "3", "g": "30", "preset": "veryfast"}
    )
    out["ts"] = make_video(d / "v.ts", n=60)
    # variable frame rate: gaps of 10, 40, 150 and 500 ms
    vfr = [0]
    for k in range(1, 60):
        vfr.append(vfr[-1] + (10, 40, 150, 500)[k % 4])
    out["vfr.mkv"] = make_video(d / "vfr.mkv", pts_ms=vfr)
    out["vfr_pts"] = d / "vfr_pts.txt"
    out["vfr_pts"].write_text(",".join(map(str, vfr)))
    # seven hours between the 2nd and 3rd frame
    out["long.mkv"] = make_video(d / "long.mkv", pts_ms=[0, 33, 7 * 3600 * 1000])
    return out


# --- decoding and sampling ------------------------------------------------------------


@pytest.mark.parametrize(("codec", "ext"), CODECS)
def test_decode_every_frame(media: dict[str, Path], codec: str, ext: str) -> None:
    path = media[f"{codec}.{ext}"]
    frames = list(iter_frames(path))
    assert [f.index for f in frames] == list(range(60))
    assert frames[0].rgb.shape == (120, 160, 3) and frames[0].rgb.dtype == np.uint8
    assert [round(f.timestamp_s * 30) for f in frames] == list(range(60))
    info = probe_video(path)
    assert (info.width, info.height) == (160, 120)
    assert info.fps == pytest.approx(30)
    assert info.duration_s == pytest.approx(2.0, abs=0.1)
    assert not info.has_audio
    # lossy, but recognisably the picture that was encoded
    assert pdq_hash_rgb(frames[10].rgb).fingerprint.payload
    ref = pdq_hash_rgb(_picture(10, 160, 120))
    got = pdq_hash_rgb(frames[10].rgb)
    dist = (int(ref.hex, 16) ^ int(got.hex, 16)).bit_count()
    assert dist <= 31


def test_bytes_and_path_agree(media: dict[str, Path]) -> None:
    path = media["libx264.mp4"]
    a = [(f.index, f.timestamp_s, f.rgb.tobytes()) for f in iter_frames(path)]
    b = [(f.index, f.timestamp_s, f.rgb.tobytes()) for f in iter_frames(path.read_bytes())]
    assert a == b


def test_per_second_selects_by_timestamp(media: dict[str, Path]) -> None:
    frames = list(iter_frames(media["libx264.mp4"], Sampling.per_second(5)))
    assert [f.index for f in frames] == list(range(0, 60, 6))
    assert [f.timestamp_s for f in frames] == pytest.approx([k / 5 for k in range(10)])


def test_per_second_on_variable_frame_rate(media: dict[str, Path]) -> None:
    pts = [int(x) for x in media["vfr_pts"].read_text().split(",")]
    frames = list(iter_frames(media["vfr.mkv"], Sampling.per_second(2)))
    got = [round(f.timestamp_s * 1000) for f in frames]
    # the first frame at or after each 0.5 s target; a long gap covers several targets
    want, nxt = [], 0.0
    for t in pts:
        if t / 1000 + 1e-3 >= nxt:
            want.append(t)
            nxt = (int((t / 1000 + 1e-3) * 2) + 1) / 2
    assert got == want
    assert len(got) < len(pts)


def test_keyframes_only(media: dict[str, Path]) -> None:
    stats = DecodeStats()
    frames = list(iter_frames(media["bframes.mp4"], Sampling.keyframes(), stats=stats))
    assert [f.index for f in frames] == [0, 30, 60]
    assert all(f.key_frame for f in frames)
    assert stats.frames_decoded == 3


def test_skip_nonref_decodes_less(media: dict[str, Path]) -> None:
    full, fast = DecodeStats(), DecodeStats()
    a = list(iter_frames(media["bframes.mp4"], Sampling.per_second(2), stats=full))
    b = list(
        iter_frames(media["bframes.mp4"], Sampling.per_second(2, skip_nonref=True), stats=fast)
    )
    assert full.frames_decoded == 90
    assert fast.frames_decoded < 90
    assert len(a) == len(b) == 6
    for x, y in zip(a, b, strict=True):  # the next decoded frame, within a few frames
        assert 0 <= y.timestamp_s - x.timestamp_s < 0.15
        assert y.index == round(y.timestamp_s * 30)


def test_output_size_and_gray(media: dict[str, Path]) -> None:
    path = media["libx264.mp4"]
    (f,) = list(iter_frames(path, Sampling.keyframes(width=80)))
    assert f.rgb.shape == (60, 80, 3)
    assert (f.full_width, f.full_height) == (160, 120)
    (g,) = list(iter_frames(path, Sampling.keyframes(scale=4, pixel_format="gray")))
    assert g.rgb.shape == (30, 40)
    (h,) = list(iter_frames(path, Sampling.keyframes(width=50, height=70)))
    assert h.rgb.shape == (70, 50, 3)


def test_time_range(media: dict[str, Path]) -> None:
    path = media["bframes.mp4"]
    whole = [(f.index, f.rgb.tobytes()) for f in iter_frames(path)]
    parts = [
        (f.index, f.rgb.tobytes())
        for a, b in ((None, 1.0), (1.0, 2.0), (2.0, None))
        for f in iter_frames(path, start_s=a, end_s=b)
    ]
    assert parts == whole


def test_sampling_validation() -> None:
    for bad in (
        lambda: Sampling(mode="fps"),
        lambda: Sampling.per_second(0),
        lambda: Sampling.every_frame(fps=2.0),
        lambda: Sampling.keyframes(scale=2, width=10),
        lambda: Sampling.every_frame(skip_nonref=True),
        lambda: Sampling(mode="sometimes"),  # type: ignore[arg-type]
    ):
        with pytest.raises(ValueError):
            bad()


# --- damaged, hostile and oversized input ---------------------------------------------


def _reason(source: object, exc: type[MediaError], **kw: object) -> str:
    with pytest.raises(exc) as ei:
        for _ in iter_frames(source, **kw):  # type: ignore[arg-type]
            pass
    return ei.value.reason


def test_empty_text_zeros_missing(tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    assert _reason(empty, EmptyFile) == "empty-file"
    assert _reason(b"", EmptyFile) == "empty-file"
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 50)
    assert _reason(text, UnsupportedMedia) == "unsupported-format"
    assert _reason(bytes(10_000), UnsupportedMedia) == "unsupported-format"
    assert _reason(tmp_path / "missing.mp4", UnreadableFile) == "not-found"
    assert _reason(tmp_path, UnreadableFile) == "not-a-file"
    with pytest.raises(UnsupportedMedia):
        probe_video(text)


def test_truncated_mp4_with_index_first(media: dict[str, Path]) -> None:
    data = media["faststart.mp4"].read_bytes()
    cut = data[: len(data) * 6 // 10]
    assert _reason(cut, CorruptMedia) == "truncated"
    stats = DecodeStats()
    frames = list(iter_frames(cut, partial_ok=True, stats=stats))
    assert 20 < len(frames) < 90
    assert stats.truncated


@pytest.mark.parametrize("frac", [0.1, 0.5, 0.9])
def test_truncated_mp4_with_index_last(media: dict[str, Path], frac: float) -> None:
    data = media["libx264.mp4"].read_bytes()
    assert _reason(data[: int(len(data) * frac)], CorruptMedia) == "truncated"


@pytest.mark.parametrize("name", ["mpeg4.avi", "libvpx.webm", "libx264.mkv"])
def test_truncated_other_containers(media: dict[str, Path], name: str) -> None:
    if name not in media:
        pytest.skip(f"no encoder for {name}")
    data = media[name].read_bytes()
    with pytest.raises(CorruptMedia):
        for _ in iter_frames(data[: len(data) // 2]):
            pass


def test_truncated_transport_stream_is_not_detectable(media: dict[str, Path]) -> None:
    """MPEG-TS declares no length: a cut stream decodes as a shorter one (documented)."""
    data = media["ts"].read_bytes()
    assert 20 < len(list(iter_frames(data[: len(data) // 2]))) < 60


@pytest.mark.parametrize("name", ["libx264.mp4", "faststart.mp4", "mpeg4.avi", "libvpx.webm"])
def test_random_damage_never_crashes(media: dict[str, Path], name: str) -> None:
    if name not in media:
        pytest.skip(f"no encoder for {name}")
    data = media[name].read_bytes()
    rng = random.Random(name)
    outcomes = set()
    for trial in range(25):
        b = bytearray(data)
        for _ in range(rng.choice((1, 10, 200))):
            pos = rng.randrange(len(b))
            b[pos] = rng.randrange(256) if trial % 2 else b[pos] ^ 0xFF
        if trial % 5 == 4:
            del b[rng.randrange(len(b)) :]
        try:
            n = sum(1 for _ in iter_frames(bytes(b), Sampling.per_second(10)))
            outcomes.add(("ok", n > 0))
        except MediaError as exc:
            outcomes.add((type(exc).__name__, exc.reason))
    assert outcomes  # and nothing but MediaError escaped


def test_too_many_pixels_declared() -> None:
    y4m = b"YUV4MPEG2 W12000 H12000 F30:1 Ip A1:1 C420jpeg\nFRAME\n" + bytes(1000)
    assert _reason(y4m, MediaTooLarge) == "too-many-pixels"
    huge = b"YUV4MPEG2 W100000 H100000 F30:1 Ip A1:1 C420jpeg\nFRAME\n" + bytes(1000)
    assert _reason(huge, MediaTooLarge) == "too-many-pixels"
    small = b"YUV4MPEG2 W16 H16 F30:1 Ip A1:1 C420jpeg\n" + (b"FRAME\n" + bytes(384)) * 3
    assert len(list(iter_frames(small))) == 3
    limits = VideoLimits(max_frame_pixels=100)
    assert _reason(small, MediaTooLarge, limits=limits) == "too-many-pixels"


def test_mp4_sample_entry_claiming_65535_squared(media: dict[str, Path]) -> None:
    """The avc1 sample entry's width/height are advisory; the SPS decides (no blow-up)."""
    data = bytearray(media["libx264.mp4"].read_bytes())
    at = data.find(b"avc1", data.find(b"stsd"))
    off = at + 4 + 6 + 2 + 16
    data[off : off + 4] = struct.pack(">HH", 65535, 65535)
    try:
        frames = list(iter_frames(bytes(data), Sampling.keyframes()))
        assert frames[0].rgb.shape == (120, 160, 3)
    except MediaError as exc:
        assert isinstance(exc, MediaTooLarge | CorruptMedia)


def test_too_long(media: dict[str, Path]) -> None:
    assert probe_video(media["long.mkv"]).duration_s == pytest.approx(7 * 3600, rel=0.01)
    assert _reason(media["long.mkv"], MediaTooLarge) == "too-long"
    # without the declared duration the timestamps give it away
    assert (
        _reason(
            media["long.mkv"],
            MediaTooLarge,
            limits=VideoLimits(max_duration_s=3600),
            sampling=Sampling.every_frame(),
        )
        == "too-long"
    )


def test_frame_and_time_budgets(media: dict[str, Path]) -> None:
    path = media["libx264.mp4"]
    assert _reason(path, MediaTooLarge, limits=VideoLimits(max_frames=10)) == "too-many-frames"
    assert (
        _reason(path, MediaTooLarge, limits=VideoLimits(max_decode_seconds=1e-9))
        == "decode-timeout"
    )


def test_sniff_container() -> None:
    assert sniff_container(b"\x00\x00\x00\x18ftypmp42") == "mov"
    assert sniff_container(b"\x1a\x45\xdf\xa3\x01") == "matroska"
    assert sniff_container(b"RIFF\x00\x00\x00\x00AVI LIST") == "avi"
    assert sniff_container(bytes([0x47] + [0] * 187) * 3) == "mpegts"
    assert sniff_container(b"#EXTM3U\nhttp://example.invalid/a.ts\n") is None
    assert sniff_container(b"\xff\xd8\xff\xe0") is None


# --- agreement with upstream vPDQ (ThreatExchange sample hashes) ----------------------

SLACK_BITS = 2
"""Allowed excess over ``ffmpeg_cli_pdqhash_reproduction.csv``'s per-video maximum: that
file was made with the ffmpeg 5.1 CLI; PyAV bundles another FFmpeg whose RGB conversion
may round differently. Measured here: every video equals the CSV figure or is below."""

STEP = 5
"""Hash every 5th frame (the decode still sees every frame) to keep the test fast."""


def _reproduction(vectors: Path) -> list[dict[str, str]]:
    path = vectors / "vpdq" / "expected" / "ffmpeg_cli_pdqhash_reproduction.csv"
    return list(csv.DictReader(path.open()))


def _dist(a: FrameHash, b: bytes) -> int:
    return (int.from_bytes(a.pdq, "big") ^ int.from_bytes(b, "big")).bit_count()


def test_agrees_with_upstream_sample_hashes(vectors_dir: Path) -> None:
    rows = _reproduction(vectors_dir)
    assert len(rows) == 14
    report = {}
    for row in rows:
        name = row["video"]
        video = vectors_dir / "videos" / f"{name}.mp4"
        ref = {
            h.frame_number: h
            for h in loads((vectors_dir / "vpdq" / "sample-hashes" / f"{name}.txt").read_text())
        }
        worst = worst_q = 0
        stats = DecodeStats()
        with blas_threads(1):
            # 6 frames/s of a 30 fps video = frames 0, 5, 10... (selected by timestamp)
            for f in iter_frames(video, Sampling.per_second(30 / STEP), stats=stats):
                assert f.index % STEP == 0
                r = ref[f.index]
                assert f.timestamp_s == pytest.approx(r.timestamp, abs=6e-4)
                got = pdq_hash_rgb(f.rgb)
                if r.quality >= 50:
                    worst = max(worst, _dist(r, got.fingerprint.payload))
                    worst_q = max(worst_q, abs(got.quality - r.quality))
        n = stats.frames_decoded
        assert n == int(row["frames_in_sample_hash_file"]), name
        report[name] = worst
        bound = int(row["max_hamming_on_frames_with_ref_quality_ge_50"]) + SLACK_BITS
        assert worst <= bound, (name, worst, bound)
        assert worst_q <= int(row["max_abs_quality_diff"]) + 1, name
    print("max bits per video:", report)


def test_chair_20_at_one_frame_per_second(vectors_dir: Path) -> None:
    expected = loads(
        (vectors_dir / "vpdq" / "expected" / "chair-20-sd-bar_1fps_pytx.txt").read_text()
    )
    got = vpdq_from_video(vectors_dir / "videos" / "chair-20-sd-bar.mp4", Sampling.per_second(1.0))
    assert [h.frame_number for h in got] == [h.frame_number for h in expected]
    assert [f"{h.timestamp:.3f}" for h in got] == [f"{h.timestamp:.3f}" for h in expected]
    assert max(_dist(g, e.pdq) for g, e in zip(got, expected, strict=True)) <= 6 + SLACK_BITS
    assert match(got, expected).query_pct == 100.0


def test_default_sampling_still_matches_upstream(vectors_dir: Path) -> None:
    """The fast default (reduced frames, skipped decoding) against upstream's every-frame
    hashes: each sampled frame is compared with upstream's hash of the same frame number,
    and the whole-video match is the one upstream's own hashes give."""
    name = "chair-orig-22-sd-bar"
    ref = loads((vectors_dir / "vpdq" / "sample-hashes" / f"{name}.txt").read_text())
    by_n = {h.frame_number: h for h in ref}
    got = vpdq_from_video(vectors_dir / "videos" / f"{name}.mp4", DEFAULT_SAMPLING)
    assert DEFAULT_SAMPLING.fps is not None
    assert len(got) >= 22 * DEFAULT_SAMPLING.fps - 1
    gaps = np.diff([h.timestamp for h in got])
    assert gaps.max() <= 1.0  # at least one hash per second, for segment matching
    dists = [_dist(h, by_n[h.frame_number].pdq) for h in got if by_n[h.frame_number].quality >= 50]
    assert max(dists) <= 12, dists  # measured: 4 on this video, 8 over all 14
    assert match(got, ref).query_pct == 100.0


def test_split_over_processes_equals_one_pass(
    media: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import tessera.media.vpdq_file as vf

    monkeypatch.setattr(vf, "MIN_SPLIT_S", 0.0)
    path = media["bframes.mp4"]  # 3 s, key frames at 0, 1 and 2 s
    sampling = Sampling.per_second(5, scale=2)
    one = vpdq_from_video(path, sampling)
    stats = DecodeStats()
    two = vpdq_from_video(path, sampling, workers=2, stats=stats)
    assert [(h.frame_number, h.pdq) for h in two] == [(h.frame_number, h.pdq) for h in one]
    assert stats.frames_decoded >= 90


@pytest.mark.parametrize(
    "name", ["test-padded-dimensions", "pattern-sd-grey-bar", "doorknob-hd-no-bar"]
)
def test_equals_meta_vpdq_package(vectors_dir: Path, name: str) -> None:
    """Meta's ``vpdq`` binding (C++ hasher on the system FFmpeg), where it is installed:
    at 1 frame/s, native resolution, the same frames, hashes and qualities bit for bit."""
    vpdq = pytest.importorskip("vpdq", reason="Meta's vpdq package is not installed")
    video = vectors_dir / "videos" / f"{name}.mp4"
    theirs = vpdq.computeHash(str(video), seconds_per_hash=1)
    ours = vpdq_from_video(video, Sampling.per_second(1.0))
    assert [(f.frame_number, f.hex, f.quality) for f in theirs] == [
        (h.frame_number, h.hex, h.quality) for h in ours
    ]


def test_audio_only_file_has_no_video_stream(tmp_path: Path) -> None:
    path = tmp_path / "tone.mkv"
    with av.open(str(path), "w") as out:
        s = out.add_stream("pcm_s16le", rate=8000, layout="mono")
        samples = (np.sin(np.arange(8000) / 5) * 8000).astype(np.int16)[None, :]
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate = 8000
        for p in s.encode(frame):
            out.mux(p)
        for p in s.encode():
            out.mux(p)
    assert _reason(path, UnsupportedMedia) == "no-video-stream"
    with pytest.raises(UnsupportedMedia):
        probe_video(path.read_bytes())
