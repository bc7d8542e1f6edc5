"""Safe audio decoding: any audio stream (audio files, video soundtracks) to mono int16 PCM.

Seized media includes damaged, truncated and hostile files, so decoding here is
defensive, in the style of ``tessera.media.decode``:

* the container is sniffed from content and FFmpeg is offered only that demuxer
  (``format=``), never left to probe: a text file that looks like an HLS or concat
  playlist can never make FFmpeg open other files or URLs. Paths are opened by
  Python and handed to FFmpeg as file objects, so names are never read as URLs;
* ``AudioLimits`` caps the input bytes, the decoded duration (checked against the
  header before decoding, and again while decoding in case the header lies) and
  the wall-clock time; exceeding one is a ``MediaTooLarge`` with a reason;
* every FFmpeg failure becomes a typed ``MediaError`` (``EmptyFile``,
  ``UnsupportedMedia`` with reason ``unsupported-format`` / ``no-audio``,
  ``CorruptMedia`` with reason ``corrupt`` / ``truncated``), never a crash.

Damage after some audio has decoded does not lose that audio: by default the
decoded prefix is returned with a flag (``"truncated"`` when the stream ends
well before the duration its header declares, ``"damaged"`` when the demuxer or
decoder reported errors). ``strict=True`` turns those flags into ``CorruptMedia``.

The wall-clock guard is checked between packets and also interrupts FFmpeg's
blocking reads (``av.open(timeout=...)``); a single C call that never returns
cannot be pre-empted from inside the process, which is what process isolation
in the ingest runner is for.

``fingerprint_audio`` / ``fingerprint_file`` feed Chromaprint while decoding
(``ChromaprintStream``), so memory stays flat however long the recording is;
``decode_audio`` returns the PCM itself.

Resampling uses libswresample (through ``av.AudioResampler``) with the options
fpcalc uses in its "compatible" mode (filter size 16, phase shift 8, linear
interpolation, cutoff 0.8), so fingerprints computed here equal fpcalc's bit for
bit (tested on Vorbis, MP3, AAC, PCM and FLAC at 8-48 kHz); PyAV's default
resampler settings gave a bit error rate of up to 0.0003 against fpcalc instead.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import av
import av.error
import numpy as np
from numpy.typing import NDArray

from tessera.errors import (
    CorruptMedia,
    EmptyFile,
    InvalidInput,
    MediaTooLarge,
    UnreadableFile,
    UnsupportedMedia,
)
from tessera.fingerprints.chromaprint import (
    DEFAULT_ALGORITHM,
    SAMPLE_RATE,
    AudioFingerprint,
    ChromaprintStream,
    fingerprint_pcm,
)
from tessera.media.sniff import sniff

DEFAULT_MAX_BYTES = 16 * 1024**3
DEFAULT_MAX_DURATION_S = 4 * 3600.0
DEFAULT_MAX_WALL_S = 300.0

COMPATIBLE_RESAMPLER_OPTIONS: dict[str, str] = {
    "resampler": "swr",
    "filter_size": "16",
    "phase_shift": "8",
    "linear_interp": "1",
    "cutoff": "0.8",
}
"""libswresample settings of fpcalc's ``SetCompatibleMode`` (chromaprint 1.4+)."""

PLAUSIBLE_BYTES_PER_S = 1000
"""A header's duration is believed (and an over-long file refused before decoding)
only if the file has at least this many bytes per declared second (8 kbit/s, below
any real codec setting); a damaged header claiming hours for a small file is
decoded, and the decoded duration is capped as it grows."""

TRUNCATION_TOLERANCE_S = 0.5
"""A stream that decodes this much shorter than its header declares is flagged."""

Source = str | os.PathLike[str] | bytes

_OGG_MAX_PAGE = 27 + 255 + 255 * 255


@dataclass(frozen=True)
class AudioLimits:
    """Caps applied while decoding; exceeding one gives ``MediaTooLarge``.

    ``max_duration_s`` bounds memory for ``decode_audio`` (mono int16 at 11025 Hz
    is 79 MB per hour, about twice that at peak) and time for ``fingerprint_audio``,
    which streams into Chromaprint and keeps no PCM;
    ``max_wall_s`` bounds time; ``max_decode_errors`` is how many damaged packets
    may be skipped; beyond it, once damaged packets outnumber good ones, the file
    is given up as ``CorruptMedia``.
    """

    max_bytes: int = DEFAULT_MAX_BYTES
    max_duration_s: float = DEFAULT_MAX_DURATION_S
    max_wall_s: float = DEFAULT_MAX_WALL_S
    max_decode_errors: int = 64


@dataclass(frozen=True)
class AudioInfo:
    """What decoding found: the source stream, the decoded length, and any damage flags."""

    container: str
    codec: str
    source_rate: int
    source_channels: int
    declared_duration_s: float | None
    duration_s: float
    flags: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class DecodedAudio:
    """Mono int16 PCM and what is known about where it came from."""

    samples: NDArray[np.int16]
    sample_rate: int
    info: AudioInfo

    @property
    def duration_s(self) -> float:
        """Duration of the decoded audio in seconds."""
        return int(self.samples.size) / self.sample_rate

    @property
    def flags(self) -> tuple[str, ...]:
        """``"truncated"`` / ``"damaged"`` when only part of the stream decoded cleanly."""
        return self.info.flags

    @property
    def container(self) -> str:
        return self.info.container

    @property
    def codec(self) -> str:
        return self.info.codec

    @property
    def source_rate(self) -> int:
        return self.info.source_rate

    @property
    def source_channels(self) -> int:
        return self.info.source_channels

    @property
    def declared_duration_s(self) -> float | None:
        return self.info.declared_duration_s


# Magic bytes the shared sniffer does not know, for containers that only carry audio
# or that FFmpeg reads: (offset, magic, ffmpeg demuxer, tessera name).
def _extra_sniff(head: bytes) -> tuple[str, str] | None:
    if len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xF6) == 0xF0:
        return "aac", "adts-aac"
    if len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0 and (head[1] & 0x06):
        return "mp3", "mpeg-audio"
    if head[:4] == b"RF64" and head[8:12] == b"WAVE":
        return "wav", "wav"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "aiff", "aiff"
    if head.startswith(b"#!AMR"):
        return "amr", "amr"
    if head.startswith(b"caff"):
        return "caf", "caf"
    if head.startswith(b"0&\xb2u\x8ef\xcf\x11"):
        return "asf", "asf"
    if head.startswith(b"\x00\x00\x01\xba"):
        return "mpeg", "mpeg-ps"
    if len(head) >= 377 and head[0] == 0x47 and head[188] == 0x47 and head[376] == 0x47:
        return "mpegts", "mpeg-ts"
    if head.startswith(b"\x0b\x77"):
        return "ac3", "ac3"
    if head.startswith(b"wvpk"):
        return "wv", "wavpack"
    if head.startswith(b"MAC "):
        return "ape", "ape"
    return None


_DEMUXERS = {
    "mp4": "mov",
    "quicktime": "mov",
    "m4a": "mov",
    "avi": "avi",
    "wav": "wav",
    "matroska": "matroska",
    "flv": "flv",
    "ogg": "ogg",
    "flac": "flac",
    "mp3": "mp3",
}


def sniff_audio_container(head: bytes) -> tuple[str, str]:
    """``(ffmpeg demuxer, name)`` for content that may carry audio; else a typed error."""
    if not head:
        raise EmptyFile("the file is empty (0 bytes)")
    kind = sniff(head[:512])
    if kind.kind in ("audio", "video") and kind.name in _DEMUXERS:
        return _DEMUXERS[kind.name], kind.name
    if kind.kind != "unknown":
        raise UnsupportedMedia(f"content is {kind.name} ({kind.kind}), not audio or video")
    extra = _extra_sniff(head)
    if extra is None:
        raise UnsupportedMedia("content is not a recognised audio or video format")
    return extra


@contextmanager
def _opened(source: Source, limits: AudioLimits) -> Iterator[tuple[IO[bytes], bytes, bytes, int]]:
    """The input as a file object, its first 512 and last ``_OGG_MAX_PAGE`` bytes, its size."""
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        if len(data) > limits.max_bytes:
            raise MediaTooLarge(
                f"{len(data)} bytes exceeds the {limits.max_bytes}-byte limit",
                reason="too-many-bytes",
            )
        yield io.BytesIO(data), data[:512], data[-_OGG_MAX_PAGE:], len(data)
        return
    try:
        fh = open(Path(source), "rb")  # noqa: SIM115 - closed below, after FFmpeg is done
    except OSError as exc:
        raise UnreadableFile.from_os_error(exc) from exc
    with fh:
        try:
            size = os.fstat(fh.fileno()).st_size
            if size > limits.max_bytes:
                raise MediaTooLarge(
                    f"{size} bytes exceeds the {limits.max_bytes}-byte limit",
                    reason="too-many-bytes",
                )
            head = fh.read(512)
            fh.seek(max(0, size - _OGG_MAX_PAGE))
            tail = fh.read(_OGG_MAX_PAGE)
            fh.seek(0)
        except OSError as exc:
            raise UnreadableFile.from_os_error(exc) from exc
        yield fh, head, tail, size


def ogg_ends_cleanly(tail: bytes) -> bool:
    """Whether an Ogg file's last bytes are one whole page flagged end-of-stream.

    FFmpeg silently drops a cut-off last page and takes the duration from the
    last whole one, so a truncated Ogg file would otherwise look complete.
    """
    pos = tail.rfind(b"OggS")
    while pos >= 0:
        if pos + 27 <= len(tail):
            nseg = tail[pos + 26]
            if pos + 27 + nseg <= len(tail):
                body = sum(tail[pos + 27 : pos + 27 + nseg])
                if pos + 27 + nseg + body == len(tail):
                    return bool(tail[pos + 5] & 0x04)
        pos = tail.rfind(b"OggS", 0, pos)
    return False


def _ffmpeg_text(exc: BaseException) -> str:
    if isinstance(exc, av.error.FFmpegError):
        return str(exc.strerror or exc)
    return str(exc) or type(exc).__name__


Sink = Callable[[NDArray[np.int16]], None]


class _Collector:
    """Resamples decoded frames to mono int16 at one rate, up to ``cap`` samples.

    Survives mid-stream format changes (a new resampler per format). Samples go to
    ``sink`` if given (streaming), else are kept. ``overflow`` is set when more
    than ``cap`` samples were produced (the excess is dropped).
    """

    def __init__(self, rate: int, cap: int, sink: Sink | None) -> None:
        self.rate = rate
        self.cap = cap
        self.sink = sink
        self.chunks: list[NDArray[np.int16]] = []
        self.count = 0
        self.overflow = False
        self._resampler: av.AudioResampler | None = None
        self._key: tuple[Any, ...] | None = None

    def _new(self) -> av.AudioResampler:
        return av.AudioResampler(
            format="s16", layout="mono", rate=self.rate, options=COMPATIBLE_RESAMPLER_OPTIONS
        )

    def _take(self, frames: list[av.AudioFrame]) -> None:
        for out in frames:
            arr = out.to_ndarray().reshape(-1).astype(np.int16, copy=False)
            room = self.cap - self.count
            if arr.size > room:
                self.overflow = True
                arr = arr[:room]
            if arr.size:
                if self.sink is not None:
                    self.sink(arr)
                else:
                    self.chunks.append(arr)
                self.count += int(arr.size)

    def push(self, frame: av.AudioFrame) -> None:
        key = (frame.format.name, frame.layout.name, frame.sample_rate)
        if self._resampler is None or key != self._key:
            self.flush()
            self._resampler = self._new()
            self._key = key
        self._take(self._resampler.resample(frame))

    def flush(self) -> None:
        if self._resampler is not None:
            self._take(self._resampler.resample(None))
            self._resampler = None

    def samples(self) -> NDArray[np.int16]:
        if not self.chunks:
            return np.zeros(0, dtype=np.int16)
        out = np.concatenate(self.chunks) if len(self.chunks) > 1 else self.chunks[0]
        self.chunks = []
        return out


def _declared_duration(container: Any, stream: Any) -> float | None:
    try:
        if stream.duration is not None and stream.time_base is not None:
            return float(stream.duration * stream.time_base)
        if container.duration is not None:
            return float(container.duration) / 1_000_000
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return None


def decode_audio(
    source: Source,
    *,
    sample_rate: int = SAMPLE_RATE,
    max_seconds: float | None = None,
    limits: AudioLimits = AudioLimits(),
    strict: bool = False,
) -> DecodedAudio:
    """Decode the best audio stream of ``source`` (a path or bytes) to mono int16 PCM.

    ``max_seconds`` decodes only the beginning (like ``fpcalc -length``); without
    it, audio longer than ``limits.max_duration_s`` is refused. ``strict`` raises
    ``CorruptMedia`` instead of returning a flagged, partial result.
    """
    collected: list[NDArray[np.int16]] = []
    info = _decode(
        source,
        sink=collected.append,
        sample_rate=sample_rate,
        max_seconds=max_seconds,
        limits=limits,
        strict=strict,
    )
    samples = np.concatenate(collected) if collected else np.zeros(0, dtype=np.int16)
    return DecodedAudio(samples, sample_rate, info)


def _decode(
    source: Source,
    *,
    sink: Sink,
    sample_rate: int,
    max_seconds: float | None,
    limits: AudioLimits,
    strict: bool,
) -> AudioInfo:
    """Decode ``source`` into ``sink`` (mono int16 chunks at ``sample_rate``)."""
    if not 1000 <= sample_rate <= 384_000:
        raise InvalidInput(f"output sample rate {sample_rate} Hz is out of range")
    if max_seconds is not None and not max_seconds > 0:
        raise InvalidInput(f"max_seconds must be positive, got {max_seconds}")
    started = time.monotonic()
    with _opened(source, limits) as (fh, head, tail, size):
        demuxer, name = sniff_audio_container(head)
        clean_end = demuxer != "ogg" or ogg_ends_cleanly(tail)
        try:
            container = av.open(
                fh,
                mode="r",
                format=demuxer,
                timeout=(limits.max_wall_s, limits.max_wall_s),
                metadata_errors="replace",
            )
        except av.error.ExitError as exc:
            raise MediaTooLarge(
                f"{name}: opening took longer than {limits.max_wall_s} s",
                reason="decode-timeout",
            ) from exc
        except (av.error.FFmpegError, OSError, ValueError, EOFError) as exc:
            text = _ffmpeg_text(exc)
            reason = "truncated" if "end of file" in text.lower() else "corrupt"
            raise CorruptMedia(f"{name} could not be opened: {text}", reason=reason) from exc
        with container:
            return _decode_open(
                container,
                sink=sink,
                name=name,
                rate=sample_rate,
                max_seconds=max_seconds,
                limits=limits,
                strict=strict,
                started=started,
                clean_end=clean_end,
                size=size,
            )


def _decode_open(
    container: Any,
    *,
    sink: Sink,
    name: str,
    rate: int,
    max_seconds: float | None,
    limits: AudioLimits,
    strict: bool,
    started: float,
    clean_end: bool,
    size: int,
) -> AudioInfo:
    streams = [s for s in container.streams.audio if s.codec_context is not None]
    if not streams:
        kinds = sorted({s.type for s in container.streams})
        has = f" (it has {', '.join(kinds)})" if kinds else ""
        raise UnsupportedMedia(f"{name} has no audio stream{has}", reason="no-audio")
    try:
        stream = container.streams.best("audio") or streams[0]
    except (av.error.FFmpegError, ValueError):
        stream = streams[0]
    codec = str(stream.codec_context.name or "unknown")
    declared = _declared_duration(container, stream)
    if (
        max_seconds is None
        and declared is not None
        and declared > limits.max_duration_s
        and size >= declared * PLAUSIBLE_BYTES_PER_S
    ):
        raise MediaTooLarge(
            f"{name} declares {declared:.0f} s of audio, over the {limits.max_duration_s:.0f} s"
            " limit",
            reason="too-long",
        )
    limited = max_seconds is not None
    cap_s = min(max_seconds, limits.max_duration_s) if max_seconds is not None else None
    cap = int((cap_s if cap_s is not None else limits.max_duration_s) * rate)
    collector = _Collector(rate, cap, sink)
    errors = good = 0
    flags: list[str] = []
    first_error = ""

    def decode(packet: Any) -> None:
        nonlocal errors, first_error, good
        try:
            frames = packet.decode() if packet is not None else stream.decode(None)
        except (av.error.FFmpegError, ValueError, OSError, EOFError) as exc:
            if isinstance(exc, av.error.EOFError):
                return
            errors += 1
            first_error = first_error or _ffmpeg_text(exc)
            if errors > limits.max_decode_errors and errors > good:
                raise CorruptMedia(
                    f"{name}: {errors} damaged packets, more than decoded ones ({first_error})",
                    reason="corrupt",
                ) from exc
            return
        good += 1
        for frame in frames:
            try:
                collector.push(frame)
            except (av.error.FFmpegError, ValueError) as exc:
                raise CorruptMedia(
                    f"{name}: audio could not be converted: {_ffmpeg_text(exc)}",
                    reason="corrupt",
                ) from exc

    stopped = False  # the cap was reached: the rest of the stream is not decoded
    try:
        for packet in container.demux(stream):
            if time.monotonic() - started > limits.max_wall_s:
                raise MediaTooLarge(
                    f"{name}: decoding took longer than {limits.max_wall_s} s",
                    reason="decode-timeout",
                )
            if packet.size == 0 and packet.dts is None:
                decode(None)  # the demuxer's flush packet
                continue
            decode(packet)
            if collector.overflow or (limited and collector.count >= cap):
                stopped = True
                break
    except (av.error.FFmpegError, OSError, ValueError, EOFError, MemoryError) as exc:
        if isinstance(exc, av.error.ExitError):
            raise MediaTooLarge(
                f"{name}: reading took longer than {limits.max_wall_s} s",
                reason="decode-timeout",
            ) from exc
        flags.append("truncated" if isinstance(exc, av.error.EOFError) else "damaged")
        first_error = first_error or _ffmpeg_text(exc)
    if not stopped:
        try:
            decode(None)
            collector.flush()
        except CorruptMedia:
            if collector.count == 0:
                raise
            flags.append("damaged")
    if collector.overflow and not limited:
        raise MediaTooLarge(
            f"{name} decodes to more than the {limits.max_duration_s:.0f} s limit",
            reason="too-long",
        )
    if errors and "damaged" not in flags:
        flags.append("damaged")
    got = collector.count / rate
    if not stopped and "truncated" not in flags:
        short = declared is not None and declared - got > max(
            TRUNCATION_TOLERANCE_S, 0.02 * declared
        )
        if short or not clean_end:
            flags.append("truncated")
    if collector.count == 0:
        reason = "truncated" if "truncated" in flags or errors == 0 else "corrupt"
        detail = f": {first_error}" if first_error else ""
        raise CorruptMedia(f"{name}: no audio could be decoded{detail}", reason=reason)
    if strict and flags:
        reason = "truncated" if "truncated" in flags else "corrupt"
        detail = f" ({first_error})" if first_error else ""
        raise CorruptMedia(
            f"{name}: decoded {got:.2f} s of {declared or 0:.2f} s declared, {', '.join(flags)}"
            f"{detail}",
            reason=reason,
        )
    return AudioInfo(
        container=name,
        codec=codec,
        source_rate=int(stream.codec_context.sample_rate or 0),
        source_channels=int(stream.codec_context.channels or 0),
        declared_duration_s=declared,
        duration_s=got,
        flags=tuple(flags),
    )


def fingerprint_decoded(
    audio: DecodedAudio, *, algorithm: int = DEFAULT_ALGORITHM
) -> AudioFingerprint:
    """Chromaprint fingerprint of decoded audio (resampled by Chromaprint if not 11025 Hz)."""
    return fingerprint_pcm(audio.samples, audio.sample_rate, algorithm=algorithm)


def fingerprint_audio(
    source: Source,
    *,
    algorithm: int = DEFAULT_ALGORITHM,
    max_seconds: float | None = None,
    limits: AudioLimits = AudioLimits(),
    strict: bool = False,
) -> tuple[AudioFingerprint, AudioInfo]:
    """Fingerprint ``source``'s best audio stream while decoding it (PCM is not kept).

    Returns the fingerprint and what decoding found, including damage flags; memory
    stays flat however long the audio is.
    """
    with ChromaprintStream(SAMPLE_RATE, algorithm=algorithm) as stream:
        info = _decode(
            source,
            sink=stream.feed,
            sample_rate=SAMPLE_RATE,
            max_seconds=max_seconds,
            limits=limits,
            strict=strict,
        )
        return stream.finish(), info


def fingerprint_file(
    source: Source,
    *,
    algorithm: int = DEFAULT_ALGORITHM,
    max_seconds: float | None = None,
    limits: AudioLimits = AudioLimits(),
    strict: bool = False,
) -> AudioFingerprint:
    """Decode ``source``'s best audio stream and return its raw Chromaprint fingerprint.

    Partial audio from a damaged file is fingerprinted (use ``fingerprint_audio`` to
    see the flags, or ``strict=True`` to refuse it).
    """
    fp, _ = fingerprint_audio(
        source, algorithm=algorithm, max_seconds=max_seconds, limits=limits, strict=strict
    )
    return fp


__all__ = [
    "COMPATIBLE_RESAMPLER_OPTIONS",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_DURATION_S",
    "DEFAULT_MAX_WALL_S",
    "AudioInfo",
    "AudioLimits",
    "DecodedAudio",
    "decode_audio",
    "fingerprint_audio",
    "fingerprint_decoded",
    "fingerprint_file",
    "ogg_ends_cleanly",
    "sniff_audio_container",
]
