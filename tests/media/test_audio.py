"""Audio decoding (``tessera.media.audio``) and Chromaprint (``tessera.fingerprints.chromaprint``).

Audio is generated here (tones, noise) or read in place from the shared benign data
set; transformed and damaged copies are made in memory with PyAV. ``fpcalc``
(Debian ``libchromaprint-tools``) is the oracle for the raw fingerprints.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from av.audio.stream import AudioStream
from av.video.stream import VideoStream
from numpy.typing import NDArray

from tessera.errors import (
    ConfigError,
    CorruptMedia,
    EmptyFile,
    InvalidFingerprint,
    InvalidInput,
    MediaError,
    MediaTooLarge,
    UnreadableFile,
    UnsupportedMedia,
)
from tessera.fingerprints import chromaprint
from tessera.fingerprints.chromaprint import (
    ITEM_DURATION_S,
    MIN_SAMPLES,
    AudioFingerprint,
    ChromaprintError,
    ChromaprintStream,
    ChromaprintUnavailable,
    fingerprint_pcm,
)
from tessera.media.audio import (
    AudioLimits,
    decode_audio,
    fingerprint_audio,
    fingerprint_file,
    ogg_ends_cleanly,
    sniff_audio_container,
)

pytestmark = pytest.mark.chromaprint  # skipped, naming the package, without it

Float = NDArray[np.float32]

LIBROSA = "audio-librosa-open-clips"
HUNGARIAN = "Hungarian_Dance_number_5_-_Allegro_in_F_sharp_minor_(string_orchestra).hq.ogg"
SPEECH = "5703-47212-0000.hq.ogg"
BBB = "video-big-buck-bunny-clips/big_buck_bunny_0_30.webm"
BBB_432 = "video-big-buck-bunny-clips/big_buck_bunny_432_433.webm"
AUGLY_AAC = "augly-audio-video-augmentations/video/inputs/input_1.aac"
AUGLY_MP4 = "augly-audio-video-augmentations/video/inputs/small_input_1.mp4"


# --------------------------------------------------------------------------- helpers


def _tone(freq: float, seconds: float, rate: int, channels: int = 1, amp: float = 0.5) -> Float:
    t = np.arange(int(seconds * rate)) / rate
    mono = (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.repeat(mono[None, :], channels, axis=0)


def _encode(pcm: Float, rate: int, *, fmt: str, codec: str, bitrate: int | None = None) -> bytes:
    """Planar float PCM (channels, n) to an encoded file in memory."""
    buf = io.BytesIO()
    layout = "mono" if pcm.shape[0] == 1 else "stereo"
    with av.open(buf, "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=rate, layout=layout)
        assert isinstance(stream, AudioStream)
        if bitrate:
            stream.bit_rate = bitrate
        cc = stream.codec_context
        res = av.AudioResampler(
            format=cc.format.name, layout=layout, rate=rate, frame_size=cc.frame_size or 1024
        )
        for i in range(0, pcm.shape[1], 4096):
            fr = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(pcm[:, i : i + 4096]), format="fltp", layout=layout
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


def _video_without_audio() -> bytes:
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("mpeg4", rate=10)
        assert isinstance(stream, VideoStream)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(10):
            img = np.full((48, 64, 3), i * 20, dtype=np.uint8)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        out.mux(stream.encode(None))
    return buf.getvalue()


def _fpcalc(path: Path) -> list[int] | None:
    exe = shutil.which("fpcalc")
    if exe is None:
        pytest.skip("fpcalc not installed (Debian package libchromaprint-tools)")
    # fpcalc 1.5.1 with FFmpeg 5 reports "Error decoding audio frame (End of file)"
    # and exits 3 at the normal end of input; the fingerprint it prints is complete.
    out = subprocess.run([exe, "-raw", "-length", "0", str(path)], capture_output=True, text=True)
    for line in out.stdout.splitlines():
        if line.startswith("FINGERPRINT="):
            return [int(x) for x in line.removeprefix("FINGERPRINT=").split(",")]
    return None


# --------------------------------------------------------------------------- decoding


def test_decode_music_to_mono_11025(data_dir: Path) -> None:
    a = decode_audio(data_dir / LIBROSA / HUNGARIAN)
    assert a.samples.dtype == np.int16 and a.samples.ndim == 1
    assert a.sample_rate == 11025
    assert (a.container, a.codec, a.source_rate, a.source_channels) == ("ogg", "vorbis", 44100, 2)
    assert a.declared_duration_s is not None
    assert abs(a.duration_s - a.declared_duration_s) < 0.05
    assert a.flags == ()


def test_decode_video_soundtrack_and_adts(data_dir: Path) -> None:
    v = decode_audio(data_dir / BBB)
    assert v.container == "matroska" and v.codec == "vorbis"
    assert abs(v.duration_s - 30.0) < 0.1 and v.flags == ()
    aac = decode_audio(data_dir / AUGLY_AAC)  # raw ADTS: not in the shared sniffer
    assert (aac.container, aac.codec) == ("adts-aac", "aac")
    assert abs(aac.duration_s - 10.0) < 0.1


def test_decode_bytes_equals_path(data_dir: Path) -> None:
    path = data_dir / LIBROSA / SPEECH
    assert np.array_equal(decode_audio(path).samples, decode_audio(path.read_bytes()).samples)


def test_resample_and_downmix_keep_the_tone() -> None:
    stereo = _tone(1000.0, 3.0, 44100, channels=2)
    stereo[1] *= 0.5  # unequal channels: downmix is the mean
    a = decode_audio(_encode(stereo, 44100, fmt="wav", codec="pcm_s16le"))
    assert a.sample_rate == 11025 and a.source_channels == 2
    assert abs(a.duration_s - 3.0) < 0.01
    spec = np.abs(np.fft.rfft(a.samples.astype(np.float64)))
    peak_hz = np.argmax(spec) * 11025 / a.samples.size
    assert abs(peak_hz - 1000.0) < 2.0
    rms = float(np.sqrt(np.mean(a.samples[1000:-1000].astype(np.float64) ** 2))) / 32768
    assert abs(rms - 0.375 / np.sqrt(2)) < 0.02  # (0.5 + 0.25) / 2 amplitude


def test_other_output_rate() -> None:
    a = decode_audio(
        _encode(_tone(440.0, 1.0, 48000), 48000, fmt="wav", codec="pcm_s16le"), sample_rate=22050
    )
    assert a.sample_rate == 22050 and abs(a.samples.size - 22050) < 64


def test_max_seconds_decodes_only_the_start(data_dir: Path) -> None:
    a = decode_audio(data_dir / LIBROSA / HUNGARIAN, max_seconds=5.0)
    assert a.samples.size == 5 * 11025 and a.flags == ()


# --------------------------------------------------------------------------- limits


def test_limits_duration_bytes_and_time(data_dir: Path) -> None:
    path = data_dir / LIBROSA / HUNGARIAN
    with pytest.raises(MediaTooLarge) as e:
        decode_audio(path, limits=AudioLimits(max_duration_s=10.0))
    assert e.value.reason == "too-long"
    with pytest.raises(MediaTooLarge) as e:
        decode_audio(path, limits=AudioLimits(max_bytes=1000))
    assert e.value.reason == "too-many-bytes"
    with pytest.raises(MediaTooLarge) as e:
        decode_audio(path.read_bytes(), limits=AudioLimits(max_bytes=1000))
    assert e.value.reason == "too-many-bytes"
    with pytest.raises(MediaTooLarge) as e:
        decode_audio(path, limits=AudioLimits(max_wall_s=0.0))
    assert e.value.reason == "decode-timeout"
    # max_seconds within the limit is allowed even for long files
    assert decode_audio(path, max_seconds=5, limits=AudioLimits(max_duration_s=10.0)).flags == ()


def test_header_that_lies_about_duration_is_still_capped() -> None:
    # a WAV whose data is longer than the cap: refused while decoding
    data = _encode(_tone(300.0, 4.0, 8000), 8000, fmt="wav", codec="pcm_s16le")
    with pytest.raises(MediaTooLarge) as e:
        decode_audio(data, limits=AudioLimits(max_duration_s=2.0))
    assert e.value.reason == "too-long"


# --------------------------------------------------------------------------- damaged and odd input


def test_empty_text_and_other_kinds() -> None:
    with pytest.raises(EmptyFile):
        decode_audio(b"")
    with pytest.raises(UnsupportedMedia) as e:
        decode_audio(b"just some text, not audio\n" * 20)
    assert e.value.reason == "unsupported-format"
    # playlists are never handed to FFmpeg (they could make it open other files)
    with pytest.raises(UnsupportedMedia):
        decode_audio(b"#EXTM3U\n#EXTINF:10,\nfile:///etc/hostname\n")
    with pytest.raises(UnsupportedMedia) as e:
        decode_audio(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)
    assert "png" in e.value.message


def test_zero_length_file(tmp_path: Path) -> None:
    p = tmp_path / "empty.ogg"
    p.write_bytes(b"")
    with pytest.raises(EmptyFile) as e:
        fingerprint_file(p)
    assert e.value.reason == "empty-file"


def test_unreadable_paths(tmp_path: Path) -> None:
    with pytest.raises(UnreadableFile) as e:
        decode_audio(tmp_path / "missing.mp3")
    assert e.value.reason == "not-found"
    with pytest.raises(UnreadableFile) as e:
        decode_audio(tmp_path)
    assert e.value.reason == "not-a-file"


def test_video_without_audio() -> None:
    with pytest.raises(UnsupportedMedia) as e:
        decode_audio(_video_without_audio())
    assert e.value.reason == "no-audio"
    assert "video" in e.value.message


def test_truncated_ogg(data_dir: Path) -> None:
    data = (data_dir / LIBROSA / HUNGARIAN).read_bytes()
    assert ogg_ends_cleanly(data[-70000:])
    half = data[: len(data) // 2]
    assert not ogg_ends_cleanly(half[-70000:])
    a = decode_audio(half)  # the decodable prefix is kept, and flagged
    assert "truncated" in a.flags and 15 < a.duration_s < 30
    with pytest.raises(CorruptMedia) as e:
        decode_audio(half, strict=True)
    assert e.value.reason == "truncated"
    with pytest.raises(CorruptMedia) as e:
        decode_audio(data[:200])  # cut inside the headers
    assert e.value.reason == "truncated"


def test_truncated_mp3(data_dir: Path) -> None:
    pcm = _tone(440.0, 6.0, 44100) + _tone(660.0, 6.0, 44100, amp=0.2)
    data = _encode(pcm, 44100, fmt="mp3", codec="libmp3lame", bitrate=64000)
    assert decode_audio(data).flags == ()
    a = decode_audio(data[: len(data) // 2])
    assert "truncated" in a.flags and 2.0 < a.duration_s < 4.0
    with pytest.raises(CorruptMedia) as e:
        decode_audio(data[: len(data) // 2], strict=True)
    assert e.value.reason == "truncated"
    with pytest.raises(CorruptMedia):
        decode_audio(data[:200])


def test_truncated_mp4_without_index() -> None:
    data = _encode(_tone(440.0, 3.0, 44100), 44100, fmt="mp4", codec="aac", bitrate=64000)
    assert abs(decode_audio(data).duration_s - 3.0) < 0.1
    with pytest.raises(CorruptMedia):
        decode_audio(data[: len(data) // 2])  # moov is at the end: nothing to index


def test_fuzzed_files_never_crash(data_dir: Path) -> None:
    """Bit flips, cuts and garbage after valid magic: a result or a MediaError, quickly."""
    rng = np.random.default_rng(7)
    seeds = [
        (data_dir / LIBROSA / SPEECH).read_bytes(),
        _encode(_tone(440.0, 2.0, 22050), 22050, fmt="mp3", codec="libmp3lame", bitrate=32000),
        _encode(_tone(440.0, 2.0, 22050), 22050, fmt="adts", codec="aac", bitrate=32000),
        _encode(_tone(440.0, 2.0, 22050), 22050, fmt="wav", codec="pcm_s16le"),
        _encode(_tone(440.0, 2.0, 22050), 22050, fmt="flac", codec="flac"),
    ]
    outcomes: dict[str, int] = {}
    for seed in seeds:
        for _ in range(8):
            b = bytearray(seed)
            mode = int(rng.integers(3))
            if mode == 0:
                for i in rng.integers(0, len(b), 50):
                    b[i] ^= int(rng.integers(1, 256))
            elif mode == 1:
                b = b[: int(rng.integers(1, len(b)))]
            else:
                b = b[:16] + bytearray(rng.bytes(4000))
            try:
                decode_audio(bytes(b), limits=AudioLimits(max_wall_s=10.0))
                outcomes["ok"] = outcomes.get("ok", 0) + 1
            except MediaError as exc:
                outcomes[exc.reason] = outcomes.get(exc.reason, 0) + 1
    assert sum(outcomes.values()) == 40
    assert set(outcomes) <= {"ok", "corrupt", "truncated", "unsupported-format", "no-audio"}, (
        outcomes
    )


def test_sniff_audio_container() -> None:
    assert sniff_audio_container(b"OggS\x00\x02" + b"\x00" * 30) == ("ogg", "ogg")
    assert sniff_audio_container(b"\x1a\x45\xdf\xa3" + b"\x00" * 30) == ("matroska", "matroska")
    assert sniff_audio_container(b"\x00\x00\x00\x18ftypisom" + b"\x00" * 30)[0] == "mov"
    assert sniff_audio_container(b"\xff\xf1\x50\x80" + b"\x00" * 30) == ("aac", "adts-aac")
    assert sniff_audio_container(b"FORM\x00\x00\x00\x00AIFF")[0] == "aiff"
    with pytest.raises(UnsupportedMedia):
        sniff_audio_container(b"PK\x03\x04" + b"\x00" * 30)


# --------------------------------------------------------------------------- chromaprint


@pytest.mark.parametrize(
    "rel",
    [f"{LIBROSA}/{HUNGARIAN}", f"{LIBROSA}/{SPEECH}", BBB, AUGLY_AAC, AUGLY_MP4],
)
def test_raw_fingerprint_equals_fpcalc(data_dir: Path, rel: str) -> None:
    """Bit-identical to ``fpcalc -raw -length 0`` (same swresample settings as fpcalc)."""
    path = data_dir / rel
    expected = _fpcalc(path)
    assert expected is not None
    fp = fingerprint_file(path)
    assert fp.algorithm == 2
    assert fp.items.tolist() == expected


@pytest.mark.parametrize(
    ("fmt", "codec", "rate", "suffix"),
    [
        ("mp3", "libmp3lame", 44100, ".mp3"),
        ("mp4", "aac", 48000, ".m4a"),
        ("wav", "pcm_s16le", 22050, ".wav"),
        ("flac", "flac", 8000, ".flac"),
    ],
)
def test_generated_files_equal_fpcalc(
    tmp_path: Path, fmt: str, codec: str, rate: int, suffix: str
) -> None:
    """Codecs and rates the shared files do not cover: a chord sweep with noise, stereo."""
    rng = np.random.default_rng(4)
    t = np.arange(8 * rate) / rate
    sweep = 0.3 * np.sin(2 * np.pi * (220 + 40 * t) * t) + 0.2 * np.sin(2 * np.pi * 330 * t)
    left = sweep + 0.05 * rng.standard_normal(t.size)
    pcm = np.stack([left, 0.7 * left]).astype(np.float32)
    path = tmp_path / f"gen{suffix}"
    path.write_bytes(_encode(pcm, rate, fmt=fmt, codec=codec, bitrate=96000))
    expected = _fpcalc(path)
    assert expected is not None and len(expected) > 30
    assert fingerprint_file(path).items.tolist() == expected


def test_too_short_for_a_fingerprint_like_fpcalc(data_dir: Path) -> None:
    path = data_dir / BBB_432  # 1 s: Chromaprint needs 2.72 s for its first item
    assert _fpcalc(path) is None
    fp = fingerprint_file(path)
    assert len(fp) == 0 and abs(fp.duration_s - 1.0) < 0.05
    assert len(fingerprint_pcm(np.zeros(MIN_SAMPLES - 1, dtype=np.int16))) == 0
    assert len(fingerprint_pcm(np.zeros(MIN_SAMPLES, dtype=np.int16))) == 1


def test_item_timing() -> None:
    n = MIN_SAMPLES + 99 * 1365
    assert len(fingerprint_pcm(np.zeros(n, dtype=np.int16))) == 100
    assert abs(ITEM_DURATION_S - 0.12381) < 1e-5


def test_library_resamples_other_rates_itself() -> None:
    rng = np.random.default_rng(3)
    noise = (rng.standard_normal(44100 * 8) * 4000).astype(np.int16)
    stereo = np.repeat(noise, 2)
    fp = fingerprint_pcm(stereo, 44100, channels=2)
    assert len(fp) > 40 and abs(fp.duration_s - 8.0) < 0.01
    with pytest.raises(InvalidInput):
        fingerprint_pcm(stereo[:-1], 44100, channels=2)
    with pytest.raises(InvalidInput):
        fingerprint_pcm(stereo, 44100, algorithm=9)


def test_text_form_round_trips() -> None:
    fp = AudioFingerprint.from_items([0, 1, 2**32 - 1, 0x256E8C77], algorithm=2, duration_s=3.2)
    text = str(fp)
    assert text.startswith("chromaprint:2:3200:")
    back = AudioFingerprint.parse(text)
    assert back == fp and back.items.tolist() == [0, 1, 2**32 - 1, 0x256E8C77]
    empty = AudioFingerprint.from_items([], algorithm=2, duration_s=0.85)
    assert str(empty) == "chromaprint:2:850:" and AudioFingerprint.parse(str(empty)) == empty
    # fpcalc -signed output is accepted too
    assert AudioFingerprint.from_items([-1], algorithm=2, duration_s=1).items[0] == 2**32 - 1
    for bad in (
        "chromaprint:2:100",
        "pdq:1:100:AAAA",
        "chromaprint:x:100:AAAA",
        "chromaprint:2:-1:AAAA",
        "chromaprint:2:100:AA!A",
        "chromaprint:2:100:AAA",  # 2 bytes: not whole items
        "chromaprint:2:100:AAAAAB",  # non-canonical padding bits
        "chromaprint:7:100:AAAAAA",
    ):
        with pytest.raises(InvalidFingerprint):
            AudioFingerprint.parse(bad)


def test_real_fingerprint_round_trips(data_dir: Path) -> None:
    fp = fingerprint_file(data_dir / LIBROSA / SPEECH)
    assert AudioFingerprint.parse(str(fp)) == fp


def test_missing_library_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chromaprint, "_lib", None)
    monkeypatch.setattr(chromaprint, "_find_library", lambda: None)
    with pytest.raises(ChromaprintUnavailable) as e:
        fingerprint_pcm(np.zeros(100, dtype=np.int16))
    assert isinstance(e.value, ConfigError)
    assert "libchromaprint1" in e.value.message and e.value.reason == "chromaprint-missing"
    monkeypatch.setattr(chromaprint, "_find_library", lambda: "/nonexistent/libchromaprint.so.1")
    with pytest.raises(ChromaprintUnavailable):
        chromaprint.load_library()


def test_streaming_fingerprint_equals_whole_pcm(data_dir: Path) -> None:
    path = data_dir / BBB
    fp, info = fingerprint_audio(path)
    assert fp == fingerprint_pcm(decode_audio(path).samples) == fingerprint_file(path)
    assert info.container == "matroska" and info.flags == () and abs(info.duration_s - 30) < 0.1
    # fed in odd-sized pieces: the same items
    pcm = decode_audio(path).samples
    with ChromaprintStream() as stream:
        for i in range(0, pcm.size, 777):
            stream.feed(pcm[i : i + 777])
        assert stream.finish() == fp
        with pytest.raises(ChromaprintError):
            stream.feed(pcm[:10])  # finished: the context is gone


def test_streaming_keeps_memory_flat(tmp_path: Path) -> None:
    """Five minutes of audio: decode_audio holds 6.6 MB of PCM, fingerprint_audio does not."""
    import tracemalloc
    import wave

    rate, seconds = 8000, 300
    rng = np.random.default_rng(9)
    path = tmp_path / "long.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        for _ in range(seconds // 10):
            w.writeframes((rng.standard_normal(10 * rate) * 3000).astype("<i2").tobytes())
    tracemalloc.start()
    try:
        fp, info = fingerprint_audio(path)
        _, streaming_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        decoded = decode_audio(path)
        _, whole_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert abs(info.duration_s - seconds) < 0.1 and len(fp) > 2400
    assert decoded.samples.nbytes == seconds * 11025 * 2
    assert whole_peak > decoded.samples.nbytes
    assert streaming_peak < 2_000_000  # measured 0.3 MB streaming, 14.7 MB whole


def test_damage_flags_reach_the_fingerprint_caller(data_dir: Path) -> None:
    data = (data_dir / LIBROSA / HUNGARIAN).read_bytes()
    fp, info = fingerprint_audio(data[: len(data) // 2])
    assert "truncated" in info.flags and len(fp) > 100
    with pytest.raises(CorruptMedia):
        fingerprint_file(data[: len(data) // 2], strict=True)
    with pytest.raises(InvalidInput):
        decode_audio(data, max_seconds=0)


def test_library_version() -> None:
    assert chromaprint.library_version()[0].isdigit()
