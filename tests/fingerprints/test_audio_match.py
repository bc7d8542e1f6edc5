"""Audio linking (``tessera.fingerprints.audio_match``): the same sound found in two files.

Transformed copies (MP3/AAC at 64 kbit/s, resampling, excerpts at known offsets,
white noise at 10 dB SNR, volume changes, a soundtrack re-muxed into MP4) are made
here with PyAV from the benign shared recordings, read in place; nothing is written
to the repository. Negatives are different recordings of the same sets, a scene from
elsewhere in the same film, generated silence and random fingerprints.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from av.audio.stream import AudioStream
from av.video.stream import VideoStream
from numpy.typing import NDArray

from tessera.errors import InvalidInput
from tessera.fingerprints.audio_match import (
    FALSE_POSITIVE_FLOOR,
    ITEM_DURATION_S,
    AudioIndex,
    MatchParams,
    ber_at_offset,
    ber_by_offset,
    compare,
    vote_offsets,
)
from tessera.fingerprints.chromaprint import AudioFingerprint, fingerprint_pcm
from tessera.media.audio import decode_audio, fingerprint_file

pytestmark = pytest.mark.chromaprint  # skipped, naming the package, without it

Float = NDArray[np.float32]

LIBROSA = "audio-librosa-open-clips"
HUNGARIAN = "Hungarian_Dance_number_5_-_Allegro_in_F_sharp_minor_(string_orchestra).hq.ogg"
VIBE = "Kevin_MacLeod_-_Vibe_Ace.hq.ogg"
SPEECH = "5703-47212-0000.hq.ogg"
BBB = "video-big-buck-bunny-clips/big_buck_bunny_0_30.webm"
BBB_432 = "video-big-buck-bunny-clips/big_buck_bunny_432_433.webm"
AUGLY = "augly-audio-video-augmentations"

OFFSET_TOLERANCE_S = 0.2


# --------------------------------------------------------------------------- transforms


@dataclass(frozen=True)
class Source:
    pcm: Float  # planar float32 (channels, n) at the source rate
    rate: int
    fingerprint: AudioFingerprint


def _decode_float(path: Path) -> tuple[Float, int]:
    with av.open(str(path)) as c:
        s = c.streams.audio[0]
        rate = s.codec_context.sample_rate
        layout = "mono" if s.codec_context.channels == 1 else "stereo"
        res = av.AudioResampler(format="fltp", layout=layout, rate=rate)
        chunks = [o.to_ndarray() for f in c.decode(s) for o in res.resample(f)]
        chunks += [o.to_ndarray() for o in res.resample(None)]
    pcm: Float = np.concatenate(chunks, axis=1).astype(np.float32)
    return pcm, rate


def _encode(
    pcm: Float,
    rate: int,
    *,
    fmt: str,
    codec: str,
    bitrate: int | None = None,
    out_rate: int | None = None,
    with_video: bool = False,
) -> bytes:
    """Planar float PCM to an encoded file in memory (optionally with a tiny video track)."""
    buf = io.BytesIO()
    layout = "mono" if pcm.shape[0] == 1 else "stereo"
    rate_out = out_rate or rate
    with av.open(buf, "w", format=fmt) as out:
        vs = out.add_stream("mpeg4", rate=5) if with_video else None
        stream = out.add_stream(codec, rate=rate_out, layout=layout)
        assert isinstance(stream, AudioStream)
        if bitrate:
            stream.bit_rate = bitrate
        if vs is not None:
            assert isinstance(vs, VideoStream)
            vs.width, vs.height, vs.pix_fmt = 64, 48, "yuv420p"
            for i in range(int(pcm.shape[1] / rate * 5)):
                img = np.full((48, 64, 3), (i * 9) % 256, dtype=np.uint8)
                vf = av.VideoFrame.from_ndarray(img, format="rgb24")
                vf.pts, vf.time_base = i, Fraction(1, 5)
                out.mux(vs.encode(vf))
            out.mux(vs.encode(None))
        cc = stream.codec_context
        res = av.AudioResampler(
            format=cc.format.name, layout=layout, rate=rate_out, frame_size=cc.frame_size or 1024
        )
        for i in range(0, pcm.shape[1], 8192):
            fr = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(pcm[:, i : i + 8192]), format="fltp", layout=layout
            )
            fr.sample_rate = rate
            fr.pts = i
            fr.time_base = Fraction(1, rate)
            for o in res.resample(fr):
                out.mux(stream.encode(o))
        for o in res.resample(None):
            out.mux(stream.encode(o))
        out.mux(stream.encode(None))
    return buf.getvalue()


def _noise(pcm: Float, snr_db: float, seed: int = 0) -> Float:
    rng = np.random.default_rng(seed)
    power = float(np.mean(pcm.astype(np.float64) ** 2))
    noise = rng.standard_normal(pcm.shape) * np.sqrt(power / 10 ** (snr_db / 10))
    out: Float = np.clip(pcm + noise, -1.0, 1.0).astype(np.float32)
    return out


def _cut(src: Source, start_s: float, seconds: float) -> Float:
    return src.pcm[:, int(start_s * src.rate) : int((start_s + seconds) * src.rate)]


@pytest.fixture(scope="module")
def sources(data_dir: Path) -> dict[str, Source]:
    out = {}
    for key, rel in (
        ("hungarian", f"{LIBROSA}/{HUNGARIAN}"),
        ("vibe", f"{LIBROSA}/{VIBE}"),
        ("speech", f"{LIBROSA}/{SPEECH}"),
        ("bbb", BBB),
    ):
        pcm, rate = _decode_float(data_dir / rel)
        out[key] = Source(pcm, rate, fingerprint_file(data_dir / rel))
    return out


@pytest.fixture(scope="module")
def library(data_dir: Path) -> dict[str, AudioFingerprint]:
    """Every recording of the shared sets long enough for a fingerprint, by name."""
    paths = [
        *sorted((data_dir / LIBROSA).glob("*.ogg")),
        data_dir / BBB,
        data_dir / AUGLY / "video/inputs/input_1.aac",
    ]
    fps = {p.name: fingerprint_file(p) for p in paths}
    return {k: v for k, v in fps.items() if len(v)}


@dataclass(frozen=True)
class Case:
    """A transformed copy: how to make it, and where its audio sits in the source."""

    name: str
    src: str
    make: Callable[[Source], bytes]
    offset_s: float
    length_s: float


def _mp3(pcm: Float, rate: int) -> bytes:
    return _encode(pcm, rate, fmt="mp3", codec="libmp3lame", bitrate=64000)


def _aac(pcm: Float, rate: int, fmt: str = "mp4", out_rate: int | None = None) -> bytes:
    return _encode(pcm, rate, fmt=fmt, codec="aac", bitrate=64000, out_rate=out_rate)


def _wav(pcm: Float, rate: int, out_rate: int | None = None) -> bytes:
    return _encode(pcm, rate, fmt="wav", codec="pcm_s16le", out_rate=out_rate)


CASES = [
    Case("mp3-64k", "hungarian", lambda s: _mp3(s.pcm, s.rate), 0.0, 45.8),
    Case("aac-64k-mp4", "vibe", lambda s: _aac(s.pcm, s.rate), 0.0, 61.4),
    Case("resample-22050", "hungarian", lambda s: _wav(s.pcm, s.rate, out_rate=22050), 0, 45.8),
    Case("volume-0.2-mp3", "vibe", lambda s: _mp3(0.2 * s.pcm, s.rate), 0.0, 61.4),
    Case("excerpt-12.4s+15s-mp3", "hungarian", lambda s: _mp3(_cut(s, 12.4, 15), s.rate), 12.4, 15),
    Case("excerpt-30.7s+20s-aac", "vibe", lambda s: _aac(_cut(s, 30.7, 20), s.rate), 30.7, 20),
    Case(
        "excerpt-20s+12s-noise10dB-adts-aac-22050",
        "hungarian",
        lambda s: _aac(_noise(_cut(s, 20, 12), 10.0), s.rate, fmt="adts", out_rate=22050),
        20.0,
        12.0,
    ),
    Case("speech-mp3-64k", "speech", lambda s: _mp3(s.pcm, s.rate), 0.0, 14.8),
    Case(
        "speech-excerpt-3.3s+10s-noise10dB-aac",
        "speech",
        lambda s: _aac(_noise(_cut(s, 3.3, 10), 10.0, seed=1), s.rate),
        3.3,
        10.0,
    ),
    Case(
        "speech-volume-3x-resample-8000",
        "speech",
        lambda s: _wav(np.clip(3.0 * s.pcm, -1, 1), s.rate, out_rate=8000),
        0.0,
        14.8,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_transformed_copy_is_found_at_its_offset(sources: dict[str, Source], case: Case) -> None:
    name, src, offset_s, length_s = case.name, case.src, case.offset_s, case.length_s
    source = sources[src]
    data = case.make(source)
    query = fingerprint_file(data)
    result = compare(query, source.fingerprint, exhaustive=False)  # votes alone find it
    assert result.status == "match", name
    m = result.matches[0]
    assert len(result.matches) == 1
    assert abs(m.offset_s - offset_s) < OFFSET_TOLERANCE_S
    assert abs(m.compared_start_s - (offset_s + m.query_start_s)) < OFFSET_TOLERANCE_S
    # the whole query is matched: its audio extent is the excerpt, give or take an item
    assert m.query_start_s < 0.3
    assert abs((m.query_end_s - m.query_start_s) - length_s) < 0.5
    # evidence: every informative item of the query (a clean 15 s excerpt has 12.3 s)
    assert m.matched_duration_s > (length_s - 2.72) * 0.9
    assert m.ber < 0.15 and m.score > 0.7
    # and it is not found in a different recording
    other = sources["bbb" if src != "bbb" else "vibe"]
    neg = compare(query, other.fingerprint)
    assert neg.status == "no-match" and neg.matches == ()
    assert neg.best_ber is not None and neg.best_ber > 0.3


def test_soundtrack_excerpt_remuxed_into_mp4_is_found_in_the_webm(
    sources: dict[str, Source], data_dir: Path
) -> None:
    bbb = sources["bbb"]
    mp4 = _encode(
        _cut(bbb, 8.0, 14.0), bbb.rate, fmt="mp4", codec="aac", bitrate=64000, with_video=True
    )
    assert decode_audio(mp4).container == "mp4"
    result = compare(fingerprint_file(mp4), fingerprint_file(data_dir / BBB))
    assert result.matched
    m = result.matches[0]
    assert abs(m.offset_s - 8.0) < OFFSET_TOLERANCE_S
    assert abs(m.compared_start_s - 8.0) < OFFSET_TOLERANCE_S
    assert abs(m.compared_end_s - 22.0) < 0.5
    assert m.ber < 0.1


def test_other_scene_of_the_same_film_is_not_matched(
    sources: dict[str, Source], data_dir: Path
) -> None:
    clip = fingerprint_file(data_dir / BBB_432)  # 1 s: no Chromaprint item at all
    assert len(clip) == 0
    assert compare(clip, sources["bbb"].fingerprint).status == "too-short"
    # padded with silence to make items, still no claim, at the default minimum or lower
    pcm = decode_audio(data_dir / BBB_432).samples
    pad = np.zeros(3 * 11025, dtype=np.int16)
    padded = fingerprint_pcm(np.concatenate([pad, pcm, pad]))
    assert compare(padded, sources["bbb"].fingerprint).status != "match"
    assert (
        compare(padded, sources["bbb"].fingerprint, MatchParams(min_duration_s=1.0)).status
        == "no-match"
    )


def test_two_segments_at_two_offsets(sources: dict[str, Source]) -> None:
    s = sources["hungarian"]
    quiet = np.zeros((s.pcm.shape[0], 2 * s.rate), dtype=np.float32)
    edit = np.concatenate([_cut(s, 30.0, 8.0), quiet, _cut(s, 5.0, 9.0)], axis=1)
    q = fingerprint_file(_encode(edit, s.rate, fmt="mp3", codec="libmp3lame", bitrate=96000))
    result = compare(q, s.fingerprint)
    assert result.matched and len(result.matches) == 2
    by_start = sorted(result.matches, key=lambda m: m.query_start_s)
    assert abs(by_start[0].offset_s - 30.0) < OFFSET_TOLERANCE_S
    assert abs(by_start[1].offset_s - (5.0 - 10.0)) < OFFSET_TOLERANCE_S
    assert abs(by_start[0].query_start_s - 0.0) < 0.01  # starts with the file
    assert abs(by_start[0].query_end_s - 8.0) < 1.5  # edit points within 1.5 s
    assert abs(by_start[1].query_start_s - 10.0) < 1.5
    assert abs(by_start[1].query_end_s - 19.0) < 0.3  # ends with the file


def test_minimum_duration_refuses_short_overlaps(sources: dict[str, Source]) -> None:
    s = sources["vibe"]
    short = fingerprint_file(_encode(_cut(s, 10.0, 5.0), s.rate, fmt="wav", codec="pcm_s16le"))
    assert 10 < len(short) < 25  # 5 s of audio: 19 items, 2.35 s of evidence
    assert compare(short, s.fingerprint).status == "too-short"
    relaxed = compare(short, s.fingerprint, MatchParams(min_duration_s=2.0))
    assert relaxed.matched and abs(relaxed.matches[0].offset_s - 10.0) < OFFSET_TOLERANCE_S
    assert compare(s.fingerprint, short).status == "too-short"  # symmetric


# --------------------------------------------------------------------------- AugLy 1 s clips


AUGLY_SURVIVE = {  # padded-clip BER at offset 0 < 0.06, both channel variants
    "test_apply_lambda",
    "test_change_volume",
    "test_invert_channels",
    "test_to_mono",
}
AUGLY_FAIL = {  # padded-clip best BER >= 0.2 on both variants: not the same sound to Chromaprint
    "test_pitch_shift",
    "test_speed",
    "test_clicks",
    "test_high_pass_filter",
    "test_insert_in_background",
    "test_percussive",
    "test_fft_convolve",
}


def test_augly_clips_are_too_short_to_compare(data_dir: Path) -> None:
    base = data_dir / AUGLY / "audio"
    for variant, name in (("mono", "vad-go-mono-32000"), ("stereo", "vad-go-stereo-44100")):
        ref = fingerprint_file(base / "inputs" / f"{name}.wav")
        assert len(ref) == 0
        for path in sorted((base / "speech_commands_expected_output" / variant).glob("*.wav")):
            assert compare(fingerprint_file(path), ref).status == "too-short", path.name


def test_augly_transforms_measured_on_padded_clips(data_dir: Path) -> None:
    """Diagnostic only: padded with 2 s of digital silence each side the clips give
    12-27 items, still under the default minimum. What survives at offset 0 is measured;
    time and pitch changes do not, and neither does anything under the default minimum."""
    base = data_dir / AUGLY / "audio"
    pad = np.zeros(2 * 11025, dtype=np.int16)

    def fp(path: Path) -> AudioFingerprint:
        return fingerprint_pcm(np.concatenate([pad, decode_audio(path).samples, pad]))

    for variant, name in (("mono", "vad-go-mono-32000"), ("stereo", "vad-go-stereo-44100")):
        ref = fp(base / "inputs" / f"{name}.wav")
        for path in sorted((base / "speech_commands_expected_output" / variant).glob("*.wav")):
            q = fp(path)
            assert compare(q, ref).status == "too-short", path.name
            relaxed = compare(q, ref, MatchParams(min_duration_s=1.0))
            if path.stem in AUGLY_SURVIVE:
                assert ber_at_offset(q, ref, 0) < 0.06, path.name
                assert relaxed.matched and abs(relaxed.matches[0].offset_s) < 0.1
            if path.stem in AUGLY_FAIL:
                assert relaxed.status == "no-match", path.name
                assert relaxed.best_ber is not None and relaxed.best_ber >= 0.2, path.name
    mono = base / "speech_commands_expected_output" / "mono"
    ref = fp(base / "inputs" / "vad-go-mono-32000.wav")
    assert ber_at_offset(fp(mono / "test_normalize.wav"), ref, 0) < 0.01  # mono only


# --------------------------------------------------------------------------- false positives


def test_different_recordings_never_match(library: dict[str, AudioFingerprint]) -> None:
    """All pairs of different recordings, every offset: no match, and the best segment
    an over-permissive acceptance would take still has BER >= the measured floor."""
    permissive = MatchParams(max_segment_ber=0.49, min_duration_s=1.0)
    lowest = 0.5
    pairs = 0
    overlap_bers = []
    for (a, fa), (b, fb) in itertools.combinations(library.items(), 2):
        pairs += 1
        overlap_bers.append(ber_by_offset(fa, fb, min_overlap=25)[1])
        assert compare(fa, fb, exhaustive=True).status != "match", (a, b)
        for m in compare(fa, fb, permissive, exhaustive=True).matches:
            lowest = min(lowest, m.ber)
    assert pairs == 55
    # whole-overlap BER at every offset with >= 25 items of overlap (36615 offsets):
    # mean 0.490, sd 0.025; the lowest, 0.294, is the 5 s trumpet loop (22 items, all of it)
    # against the Tchaikovsky: short overlaps reach down to FALSE_POSITIVE_FLOOR
    bers = np.concatenate(overlap_bers)
    assert bers.size > 30000
    assert abs(float(bers.mean()) - 0.49) < 0.01 and float(bers.min()) > FALSE_POSITIVE_FLOOR
    assert FALSE_POSITIVE_FLOOR - 0.01 <= lowest < 0.35


def test_random_fingerprints_have_ber_one_half() -> None:
    rng = np.random.default_rng(11)
    a = rng.integers(0, 2**32, 300, dtype=np.uint32)
    b = rng.integers(0, 2**32, 500, dtype=np.uint32)
    _, bers = ber_by_offset(a, b, min_overlap=100)
    assert abs(float(bers.mean()) - 0.5) < 0.01 and float(bers.min()) > 0.4
    assert compare(a, b, exhaustive=True).status == "no-match"
    assert compare(a, np.concatenate([b[:100], a, b[100:]])).matches[0].offset_items == 100


def test_silence_is_not_evidence(sources: dict[str, Source]) -> None:
    """Chromaprint gives one constant item for digital silence: two different
    recordings that both open with 10 s of silence must not match on it."""
    hush = np.zeros(10 * 11025, dtype=np.int16)
    speech = decode_audio(
        _encode(sources["speech"].pcm, sources["speech"].rate, fmt="wav", codec="pcm_s16le")
    ).samples
    music = decode_audio(
        _encode(_cut(sources["vibe"], 0, 15), sources["vibe"].rate, fmt="wav", codec="pcm_s16le")
    ).samples
    a = fingerprint_pcm(np.concatenate([hush, speech]))
    b = fingerprint_pcm(np.concatenate([hush, music]))
    assert ber_at_offset(a.items[:50], b.items[:50], 0) == 0.0  # identical silent items
    assert compare(a, b).status == "no-match"
    only_hush = fingerprint_pcm(np.zeros(20 * 11025, dtype=np.int16))
    assert compare(only_hush, only_hush).status == "no-match"


# --------------------------------------------------------------------------- index and speed


def test_index_finds_the_source_among_many(
    sources: dict[str, Source], library: dict[str, AudioFingerprint], data_dir: Path
) -> None:
    index = AudioIndex()
    for name, fp in library.items():
        index.add(name, fp)
    assert len(index) == len(library)
    with pytest.raises(InvalidInput):
        index.add(HUNGARIAN, library[HUNGARIAN])
    for src, fname, start, length in (
        ("hungarian", HUNGARIAN, 20.0, 12.0),
        ("vibe", VIBE, 30.7, 15.0),
        ("speech", SPEECH, 3.3, 10.0),
        ("bbb", "big_buck_bunny_0_30.webm", 8.0, 14.0),
    ):
        s = sources[src]
        q = fingerprint_file(
            _encode(
                _noise(_cut(s, start, length), 10.0), s.rate, fmt="mp4", codec="aac", bitrate=64000
            )
        )
        hits = index.search(q)
        assert [h.key for h in hits] == [fname]
        assert abs(hits[0].comparison.matches[0].offset_s - start) < OFFSET_TOLERANCE_S
    # negatives: a 5 s clip that does share input_1.aac's audio but has 19 items, under
    # the 25 needed for a claim; a steady tone; random items; an empty index
    clip = fingerprint_file(data_dir / AUGLY / "video/inputs/small_input_1.mp4")
    assert len(clip) == 19 and index.search(clip) == []
    relaxed = AudioIndex(params=MatchParams(min_duration_s=2.0))
    relaxed.add("input_1.aac", library["input_1.aac"])
    hit = relaxed.search(clip)[0].comparison.matches[0]
    assert abs(hit.offset_s) < OFFSET_TOLERANCE_S and hit.ber < 0.1
    t = np.arange(20 * 11025) / 11025
    tone = fingerprint_pcm((8000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16))
    assert index.search(tone) == []
    rng = np.random.default_rng(5)
    assert index.search(rng.integers(0, 2**32, 200, dtype=np.uint32)) == []
    assert AudioIndex().search(library[HUNGARIAN]) == []


def test_index_does_not_find_a_recording_it_does_not_hold(
    library: dict[str, AudioFingerprint],
) -> None:
    index = AudioIndex()
    for name, fp in library.items():
        if name != VIBE:
            index.add(name, fp)
    assert index.search(library[VIBE]) == []


def test_voting_finds_the_offset_in_a_long_reference(sources: dict[str, Source]) -> None:
    """A 15 s excerpt located in ~30 min of audio by votes, without the exhaustive scan."""
    rng = np.random.default_rng(2)
    filler = [library_fp.fingerprint.items for library_fp in sources.values()]
    parts = [rng.permutation(np.concatenate(filler)) for _ in range(12)]  # ~14k items
    target = sources["vibe"].fingerprint.items
    long = np.concatenate([*parts[:5], target, *parts[5:]])
    at = sum(p.size for p in parts[:5])
    s = sources["vibe"]
    q = fingerprint_file(
        _encode(
            _noise(_cut(s, 40.0, 15.0), 12.0), s.rate, fmt="mp3", codec="libmp3lame", bitrate=64000
        )
    )
    result = compare(q, long, exhaustive=False)
    assert long.size > 14000
    assert result.matched
    assert abs(result.matches[0].offset_s - (at * ITEM_DURATION_S + 40.0)) < OFFSET_TOLERANCE_S


def test_votes_point_at_the_offset(sources: dict[str, Source]) -> None:
    items = sources["hungarian"].fingerprint.items
    offsets, votes = vote_offsets(items[100:200], items)
    assert int(offsets[np.argmax(votes)]) == 100


# --------------------------------------------------------------------------- API edges


def test_params_and_inputs_are_validated() -> None:
    for bad in (
        {"ber_threshold": 0.6},
        {"max_segment_ber": 0.0},
        {"window_s": 0},
        {"min_duration_s": -1},
        {"vote_bits": 0},
        {"max_candidates": 0},
    ):
        with pytest.raises(InvalidInput):
            MatchParams(**bad)
    with pytest.raises(InvalidInput):
        compare(np.zeros((2, 2), dtype=np.uint32), np.zeros(3, dtype=np.uint32))
    with pytest.raises(InvalidInput):
        compare([2**33], [1])
    a = AudioFingerprint.from_items(list(range(40)), algorithm=2, duration_s=8)
    b = AudioFingerprint.from_items(list(range(40)), algorithm=4, duration_s=8)
    with pytest.raises(InvalidInput):
        compare(a, b)
    assert ber_at_offset(a, a, 100) == 0.5
    assert compare([], a).status == "too-short"
    with pytest.raises(InvalidInput):
        AudioIndex(key_bits=0)
