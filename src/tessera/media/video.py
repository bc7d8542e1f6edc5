"""Safe video decoding with PyAV (FFmpeg): a file in, sampled RGB frames out.

Seized video is often damaged, truncated, renamed or deliberately hostile. Decoding
here follows the rules of the image decoder (``tessera.media.decode``):

* the container is sniffed from its first bytes and FFmpeg is offered only that one
  demuxer (no probing of every format FFmpeg knows, no playlists or protocols that
  open other files or URLs); paths are opened through the ``file:`` protocol only;
* the declared size, duration and frame count are checked against ``VideoLimits``
  before decoding, each decoded frame's size before it is converted, and a
  wall-clock budget bounds the whole decode;
* every failure is a typed ``MediaError`` with a stable ``reason`` (``empty-file``,
  ``unsupported-format``, ``no-video-stream``, ``corrupt``, ``truncated``,
  ``too-many-pixels``, ``too-long``, ``too-many-frames``, ``decode-timeout``...),
  never a crash. Isolated undecodable packets are skipped (as players do) and
  counted in ``DecodeStats``; too many of them make the file ``corrupt``.

Frame selection (``Sampling``) is by *timestamp*, not by index, so variable frame
rate video is sampled evenly in time. For constant 30 fps video, 1 frame/s selects
frames 0, 30, 60... exactly as upstream vPDQ's ``frameMod`` rule does.

Frame numbers (``VideoFrame.index``) are 0-based positions in decoder output order,
the numbering of vPDQ's text format. When decoding skips frames (keyframes only or
``skip_nonref``) the position is not observable and is estimated from the timestamp
and the stream's average frame rate.
"""

from __future__ import annotations

import io
import math
import os
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import av
import numpy as np
from numpy.typing import NDArray

from tessera.errors import (
    CorruptMedia,
    EmptyFile,
    MediaError,
    MediaTooLarge,
    UnreadableFile,
    UnsupportedMedia,
)

if TYPE_CHECKING:  # pragma: no cover
    import av.container
    import av.video.frame
    import av.video.stream

Source = str | os.PathLike[str] | bytes
SamplingMode = Literal["all", "fps", "keyframes"]
PixelFormat = Literal["rgb24", "gray"]

DEFAULT_MAX_DURATION_S = 6 * 3600.0
DEFAULT_MAX_FRAME_PIXELS = 8192 * 8192
DEFAULT_MAX_FRAMES = 2_000_000
DEFAULT_MAX_DECODE_SECONDS = 3600.0

_TS_TOLERANCE_S = 1e-3
"""A frame this much before a sampling target still counts as on it (pts rounding)."""

_HEAD_BYTES = 4096


@dataclass(frozen=True)
class VideoLimits:
    """Caps applied before and during decoding; exceeding one gives ``MediaTooLarge``.

    ``max_decode_errors`` bounds the undecodable packets skipped before the file is
    declared ``corrupt`` (a few damaged packets in a long video are recoverable;
    a file of garbage is not). ``max_decode_seconds`` is a wall-clock budget for the
    whole decode (``None`` = unbounded), also passed to FFmpeg as its I/O timeout.
    """

    max_duration_s: float = DEFAULT_MAX_DURATION_S
    max_frame_pixels: int = DEFAULT_MAX_FRAME_PIXELS
    max_frames: int = DEFAULT_MAX_FRAMES
    max_decode_seconds: float | None = DEFAULT_MAX_DECODE_SECONDS
    max_decode_errors: int = 1000
    max_error_fraction: float = 0.5


@dataclass(frozen=True)
class Sampling:
    """Which frames to return, at what size.

    * ``mode="all"``: every decoded frame;
    * ``mode="fps"``: ``fps`` frames per second of *timestamp* (the first frame at or
      after each multiple of ``1/fps`` s from the stream start);
    * ``mode="keyframes"``: only key frames; the decoder skips the others
      (``skip_frame = NONKEY``), which is the cheapest way through a file.

    ``width``/``height`` scale the output with FFmpeg's scaler (``interpolation``,
    default ``AREA`` as upstream vPDQ); give one of them to keep the aspect ratio.
    ``scale`` (2, 4...) instead divides both sides, rounding up, so that each output
    pixel stands for a ``scale x scale`` block of the picture (see
    ``tessera.fingerprints.pdq.SampleGrid``). ``pixel_format="gray"`` returns the
    full-range luma plane as an ``H x W`` array in ``VideoFrame.rgb``'s place (cheaper
    than RGB; PDQ only looks at luma).

    ``skip_nonref`` (``fps`` mode only) tells the decoder not to decode frames no
    other frame refers to (disposable B-frames), a speed-up for streams that have
    them; selection then takes the next decoded frame after each target time.
    ``skip_loop_filter`` skips the in-loop deblocking filter (H.264/HEVC), another
    decode speed-up that changes the pixels slightly (errors do not accumulate past
    the next key frame).
    """

    mode: SamplingMode = "all"
    fps: float | None = None
    width: int | None = None
    height: int | None = None
    scale: int = 1
    interpolation: str = "AREA"
    pixel_format: PixelFormat = "rgb24"
    skip_nonref: bool = False
    skip_loop_filter: bool = False

    def __post_init__(self) -> None:
        if self.mode not in ("all", "fps", "keyframes"):
            raise ValueError(f"unknown sampling mode {self.mode!r}")
        if self.mode == "fps":
            if self.fps is None or not math.isfinite(self.fps) or self.fps <= 0:
                raise ValueError("sampling mode 'fps' needs a positive, finite fps")
        elif self.fps is not None:
            raise ValueError(f"fps is only meaningful with mode 'fps', not {self.mode!r}")
        for name in ("width", "height"):
            v = getattr(self, name)
            if v is not None and v < 1:
                raise ValueError(f"{name} must be positive, got {v}")
        if self.scale < 1:
            raise ValueError(f"scale must be >= 1, got {self.scale}")
        if self.scale > 1 and (self.width is not None or self.height is not None):
            raise ValueError("give either scale or width/height, not both")
        if self.skip_nonref and self.mode != "fps":
            raise ValueError("skip_nonref only applies to mode 'fps'")
        if self.pixel_format not in ("rgb24", "gray"):
            raise ValueError(f"unknown pixel format {self.pixel_format!r}")

    @classmethod
    def every_frame(cls, **kw: Any) -> Sampling:
        return cls(mode="all", **kw)

    @classmethod
    def per_second(cls, fps: float, **kw: Any) -> Sampling:
        return cls(mode="fps", fps=float(fps), **kw)

    @classmethod
    def keyframes(cls, **kw: Any) -> Sampling:
        return cls(mode="keyframes", **kw)

    def output_size(self, width: int, height: int) -> tuple[int, int]:
        """Output width and height for a ``width x height`` picture."""
        if self.scale > 1:
            return -(-width // self.scale), -(-height // self.scale)
        w, h = self.width, self.height
        if w is None and h is None:
            return width, height
        if w is None:
            assert h is not None
            w = max(1, round(width * h / height))
        elif h is None:
            h = max(1, round(height * w / width))
        return w, h


@dataclass(frozen=True)
class VideoInfo:
    """What the container declares about its first video stream (estimates)."""

    container: str
    codec: str
    width: int
    height: int
    fps: float | None
    duration_s: float | None
    frame_count: int | None
    has_audio: bool
    pixel_format: str | None = None

    @property
    def pixels(self) -> int:
        return self.width * self.height


@dataclass(frozen=True)
class VideoFrame:
    """One selected frame: 0-based frame number, seconds from the stream start, pixels.

    ``rgb`` is ``H x W x 3`` uint8 (or ``H x W`` luma with ``pixel_format="gray"``).
    ``full_width``/``full_height`` are the decoded picture's size before scaling.
    """

    index: int
    timestamp_s: float
    rgb: NDArray[np.uint8]
    full_width: int = 0
    full_height: int = 0
    key_frame: bool = False


@dataclass
class DecodeStats:
    """Filled in while ``iter_frames`` runs (pass one in to read it afterwards)."""

    frames_decoded: int = 0
    frames_selected: int = 0
    packets: int = 0
    decode_errors: int = 0
    truncated: bool = False
    wall_s: float = 0.0
    notes: list[str] = field(default_factory=list)


# --- container sniffing ---------------------------------------------------------------

_ISO_BOXES = {b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot", b"uuid"}


def sniff_container(head: bytes) -> str | None:
    """FFmpeg demuxer name for a video container recognised from its first bytes."""
    if len(head) >= 8 and head[4:8] in _ISO_BOXES:
        return "mov"  # mov,mp4,m4a,3gp,3g2,mj2
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "matroska"  # also WebM
    if head[:4] == b"RIFF" and head[8:12] in (b"AVI ", b"AVIX"):
        return "avi"
    if head.startswith(b"FLV\x01"):
        return "flv"
    if head.startswith(b"\x30\x26\xb2\x75\x8e\x66\xcf\x11"):
        return "asf"  # WMV
    if head.startswith(b"OggS"):
        return "ogg"
    if head.startswith(b"YUV4MPEG2 "):
        return "yuv4mpegpipe"
    if head.startswith(b"\x00\x00\x01\xba"):
        return "mpeg"  # MPEG program stream (VOB, .mpg)
    for size, offset in ((188, 0), (192, 4), (204, 0)):
        if len(head) >= offset + 2 * size + 1 and all(
            head[offset + k * size] == 0x47 for k in range(3)
        ):
            return "mpegts"
    if len(head) >= 189 and head[0] == 0x47 and head[188] == 0x47:
        return "mpegts"
    return None


# --- opening --------------------------------------------------------------------------


def _read_head(source: Source) -> bytes:
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source[:_HEAD_BYTES])
    try:
        st = os.stat(source)
        if stat.S_ISDIR(st.st_mode):
            raise UnreadableFile("is a directory", reason="not-a-file")
        if not stat.S_ISREG(st.st_mode):  # a FIFO or device could block for ever
            raise UnreadableFile("not a regular file", reason="not-a-file")
        with open(source, "rb") as fh:
            return fh.read(_HEAD_BYTES)
    except OSError as exc:
        raise UnreadableFile.from_os_error(exc) from exc


def _open(
    source: Source, limits: VideoLimits, started: float | None = None
) -> av.container.InputContainer:
    head = _read_head(source)
    if not head:
        raise EmptyFile("the file is empty (0 bytes)")
    fmt = sniff_container(head)
    if fmt is None:
        raise UnsupportedMedia("content is not a recognised video container")
    if fmt not in av.formats_available:  # pragma: no cover - PyAV wheels have them all
        raise UnsupportedMedia(f"this FFmpeg build has no {fmt} demuxer")
    if fmt == "yuv4mpegpipe":
        _check_y4m_header(head, limits)
    target: Any
    if isinstance(source, bytes | bytearray | memoryview):
        target = io.BytesIO(bytes(source))
    else:
        # "file:" stops FFmpeg reading a name like "concat:..." or "http:..." as a URL
        target = "file:" + os.fspath(Path(os.fspath(source)).absolute())
    timeout = limits.max_decode_seconds
    started = time.monotonic() if started is None else started
    try:
        return av.open(  # type: ignore[no-any-return]
            target,
            mode="r",
            format=fmt,
            options={"protocol_whitelist": "file"} if isinstance(target, str) else {},
            metadata_errors="replace",
            timeout=timeout,
        )
    except av.error.MemoryError as exc:
        raise MediaTooLarge(f"FFmpeg ran out of memory opening the {fmt} file") from exc
    except av.error.FileNotFoundError as exc:
        raise UnreadableFile("no such file", reason="not-found") from exc
    except av.error.PermissionError as exc:
        raise UnreadableFile("permission denied", reason="permission-denied") from exc
    except (av.error.ExitError, av.error.TimeoutError) as exc:
        raise MediaTooLarge(
            "opening the file exceeded the decode time budget", reason="decode-timeout"
        ) from exc
    except (av.error.PatchWelcomeError, av.error.NotImplementedError) as exc:
        raise UnsupportedMedia(f"FFmpeg does not support this {fmt} file: {exc}") from exc
    except Exception as exc:  # FFmpeg and metadata errors of every kind: never a crash
        if timeout is not None and time.monotonic() - started >= timeout:
            raise MediaTooLarge(
                "opening the file exceeded the decode time budget", reason="decode-timeout"
            ) from exc
        raise _corrupt(exc, fmt, source) from exc


def _check_y4m_header(head: bytes, limits: VideoLimits) -> None:
    """YUV4MPEG2 states its size in a text header; refuse absurd sizes before FFmpeg
    tries to allocate a frame of them."""
    fields = head.split(b"\n", 1)[0].split(b" ")[1:]
    dims = {f[:1]: f[1:] for f in fields if f[:1] in (b"W", b"H")}
    try:
        w, h = int(dims[b"W"]), int(dims[b"H"])
    except (KeyError, ValueError) as exc:
        raise CorruptMedia("YUV4MPEG2 header has no valid W/H") from exc
    if w * h > limits.max_frame_pixels:
        raise MediaTooLarge(
            f"{w}x{h} = {w * h} pixels per frame exceeds the limit of {limits.max_frame_pixels}",
            reason="too-many-pixels",
        )


def _corrupt(exc: BaseException, fmt: str, source: Source) -> CorruptMedia:
    text = str(exc) or type(exc).__name__
    text = text.replace(": '<none>'", "")
    truncated = "truncat" in text.lower() or "end of file" in text.lower()
    if not truncated and fmt == "mov":
        truncated = _iso_box_overruns(source)
    return CorruptMedia(
        f"{fmt} container could not be read: {text}",
        reason="truncated" if truncated else "corrupt",
    )


def _iso_box_overruns(source: Source) -> bool:
    """True when a top-level ISO BMFF box claims to run past the end of the file.

    A moov-at-the-end MP4 cut short fails to open with no more than "invalid data";
    its top-level box sizes still say that bytes are missing.
    """
    try:
        if isinstance(source, bytes | bytearray | memoryview):
            fh: Any = io.BytesIO(bytes(source))
        else:
            fh = open(source, "rb")  # noqa: SIM115 - closed below
        with fh:
            fh.seek(0, io.SEEK_END)
            end = fh.tell()
            pos = 0
            for _ in range(10_000):
                if pos + 8 > end:
                    return False
                fh.seek(pos)
                header = fh.read(16)
                size = int.from_bytes(header[:4], "big")
                if size == 1 and len(header) == 16:
                    size = int.from_bytes(header[8:16], "big")
                elif size == 0:  # runs to the end of the file by definition
                    return False
                if size < 8:
                    return False  # not a box structure; corrupt, not truncated
                if pos + size > end:
                    return True
                pos += size
    except OSError:
        return False
    return False


def _video_stream(container: av.container.InputContainer) -> av.video.stream.VideoStream:
    if not container.streams.video:
        raise UnsupportedMedia("the file has no video stream", reason="no-video-stream")
    return container.streams.video[0]


def _rate(stream: av.video.stream.VideoStream) -> float | None:
    for r in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if r is not None and r > 0:
            f = float(r)
            if math.isfinite(f) and f < 10_000:
                return f
    return None


def _duration(container: av.container.InputContainer, stream: Any) -> float | None:
    if stream.duration is not None and stream.time_base is not None and stream.duration > 0:
        return float(stream.duration * stream.time_base)
    if container.duration is not None and container.duration > 0:
        return float(container.duration) / 1_000_000
    return None


def _info(container: av.container.InputContainer) -> VideoInfo:
    stream = _video_stream(container)
    cc = stream.codec_context
    fps = _rate(stream)
    duration = _duration(container, stream)
    frames = int(stream.frames) if stream.frames else None
    if frames is None and duration is not None and fps is not None:
        frames = round(duration * fps)
    return VideoInfo(
        container=str(container.format.name),
        codec=str(cc.name) if cc is not None else "unknown",
        width=int(stream.width or 0),
        height=int(stream.height or 0),
        fps=fps,
        duration_s=duration,
        frame_count=frames,
        has_audio=bool(container.streams.audio),
        pixel_format=str(cc.format.name) if cc is not None and cc.format is not None else None,
    )


def _check_limits(info: VideoInfo, limits: VideoLimits) -> None:
    if info.pixels > limits.max_frame_pixels:
        raise MediaTooLarge(
            f"{info.width}x{info.height} = {info.pixels} pixels per frame exceeds the limit"
            f" of {limits.max_frame_pixels}",
            reason="too-many-pixels",
        )
    if info.duration_s is not None and info.duration_s > limits.max_duration_s:
        raise MediaTooLarge(
            f"declared duration {info.duration_s:.0f} s exceeds the limit of"
            f" {limits.max_duration_s:.0f} s",
            reason="too-long",
        )
    if info.frame_count is not None and info.frame_count > limits.max_frames:
        raise MediaTooLarge(
            f"declared {info.frame_count} frames exceeds the limit of {limits.max_frames}",
            reason="too-many-frames",
        )


def probe_video(source: Source, limits: VideoLimits | None = None) -> VideoInfo:
    """Read the container header: size, rate, duration, codec... (no frame decoded).

    Raises the same typed errors as ``iter_frames`` for unreadable input; limits are
    *not* applied (a caller may want to report an oversized file's size).
    """
    limits = limits or VideoLimits()
    container = _open(source, limits)
    try:
        return _info(container)
    except MediaError:
        raise
    except Exception as exc:
        raise CorruptMedia(f"the header could not be read: {type(exc).__name__}: {exc}") from exc
    finally:
        container.close()


# --- decoding -------------------------------------------------------------------------


class _Selector:
    """Decides, by timestamp, which decoded frames a ``Sampling`` keeps."""

    def __init__(self, sampling: Sampling) -> None:
        self.sampling = sampling
        self.next_t = -math.inf

    def take(self, t: float) -> bool:
        s = self.sampling
        if s.mode != "fps":
            return True
        assert s.fps is not None
        if t + _TS_TOLERANCE_S < self.next_t:
            return False
        k = math.floor((t + _TS_TOLERANCE_S) * s.fps) + 1
        self.next_t = k / s.fps
        return True


def _convert(frame: av.video.frame.VideoFrame, sampling: Sampling) -> NDArray[np.uint8]:
    w, h = sampling.output_size(frame.width, frame.height)
    kwargs: dict[str, Any] = {"format": sampling.pixel_format}
    if (w, h) != (frame.width, frame.height):
        kwargs.update(width=w, height=h, interpolation=sampling.interpolation)
    arr = frame.to_ndarray(**kwargs)
    return np.ascontiguousarray(arr, dtype=np.uint8)


def iter_frames(
    source: Source,
    sampling: Sampling | None = None,
    limits: VideoLimits | None = None,
    *,
    stats: DecodeStats | None = None,
    partial_ok: bool = False,
    start_s: float | None = None,
    end_s: float | None = None,
    threads: int = 0,
) -> Iterator[VideoFrame]:
    """Decode ``source`` (a path or the file's bytes) and yield the selected frames.

    Raises a typed ``MediaError`` for unreadable input, before the first frame where
    the header already tells, otherwise when the problem is met. A stream that ends
    before its declared frame count (a truncated file) raises ``CorruptMedia``
    (``reason="truncated"``) after the last good frame unless ``partial_ok``.

    ``start_s``/``end_s`` restrict decoding to a time range ``[start_s, end_s)`` of
    the stream: the demuxer seeks to the key frame at or before ``start_s`` (so work
    can be split over processes); frames before ``start_s`` are decoded but not
    returned. With a range, sampling targets are still multiples of ``1/fps`` from the
    stream start, so ranges cut at those multiples join without gaps or repeats.
    The truncation check needs the whole stream and is skipped for a range.

    ``threads`` is the decoder's thread count (0 = FFmpeg's choice, one per core).
    """
    sampling = sampling or Sampling()
    limits = limits or VideoLimits()
    stats = stats if stats is not None else DecodeStats()
    started = time.monotonic()
    container = _open(source, limits, started)
    try:
        info = _info(container)
        _check_limits(info, limits)
        yield from _decode(
            container,
            info,
            sampling,
            limits,
            stats,
            started=started,
            partial_ok=partial_ok,
            start_s=start_s,
            end_s=end_s,
            threads=threads,
        )
    except MediaError:
        raise
    except MemoryError as exc:
        raise MediaTooLarge("decoding ran out of memory") from exc
    except Exception as exc:  # whatever FFmpeg or PyAV throws at hostile input
        raise CorruptMedia(f"decoding failed: {type(exc).__name__}: {exc}") from exc
    finally:
        stats.wall_s = time.monotonic() - started
        container.close()


def _decode(
    container: av.container.InputContainer,
    info: VideoInfo,
    sampling: Sampling,
    limits: VideoLimits,
    stats: DecodeStats,
    *,
    started: float,
    partial_ok: bool,
    start_s: float | None,
    end_s: float | None,
    threads: int,
) -> Iterator[VideoFrame]:
    stream = _video_stream(container)
    stream.thread_type = "AUTO"  # frame and slice threads
    stream.codec_context.thread_count = max(0, threads)
    cc = stream.codec_context
    skipping = False
    if sampling.mode == "keyframes":
        cc.skip_frame = "NONKEY"
        skipping = True
    elif sampling.skip_nonref:
        cc.skip_frame = "NONREF"
        skipping = True
    if sampling.skip_loop_filter:
        cc.options = {**cc.options, "skip_loop_filter": "all"}
    tb = stream.time_base or Fraction(1, 90_000)
    origin = stream.start_time
    fps = info.fps
    if start_s is not None and start_s > 0:
        base = origin if origin is not None else 0
        container.seek(base + int(start_s / tb), stream=stream, backward=True, any_frame=False)
        skipping = True  # frame numbers after a seek are estimated from timestamps
    selector = _Selector(sampling)
    deadline = None if limits.max_decode_seconds is None else started + limits.max_decode_seconds
    last_t: float | None = None

    def frames_of(packet: Any) -> list[Any]:
        try:
            out = list(cc.decode(packet))
        except av.error.MemoryError as exc:
            raise MediaTooLarge("the decoder ran out of memory") from exc
        except (av.error.FFmpegError, ValueError) as exc:
            stats.decode_errors += 1
            if stats.decode_errors > limits.max_decode_errors or (
                stats.decode_errors > 20
                and stats.decode_errors > limits.max_error_fraction * max(1, stats.packets)
            ):
                raise CorruptMedia(
                    f"{stats.decode_errors} undecodable packets (last: {exc})",
                    reason="corrupt",
                ) from exc
            return []
        return out

    def packets() -> Iterator[Any]:
        try:
            for packet in container.demux(stream):
                stats.packets += 1
                if deadline is not None and time.monotonic() > deadline:
                    raise MediaTooLarge(
                        f"decoding took longer than {limits.max_decode_seconds} s",
                        reason="decode-timeout",
                    )
                if packet.size == 0 and packet.dts is None:
                    continue  # the demuxer's end-of-stream marker; flushed below
                yield packet
        except av.error.ExitError as exc:
            raise MediaTooLarge(
                "decoding exceeded the time budget", reason="decode-timeout"
            ) from exc
        except av.error.MemoryError as exc:
            raise MediaTooLarge("the demuxer ran out of memory") from exc
        except (av.error.FFmpegError, ValueError, UnicodeDecodeError) as exc:
            if not stats.frames_decoded:
                raise CorruptMedia(f"the stream could not be read: {exc}") from exc
            stats.truncated = True
            stats.notes.append(f"demuxing stopped early: {exc}")
        yield None  # flush the decoder

    try:
        for packet in packets():
            for frame in frames_of(packet):
                if deadline is not None and time.monotonic() > deadline:
                    raise MediaTooLarge(
                        f"decoding took longer than {limits.max_decode_seconds} s",
                        reason="decode-timeout",
                    )
                stats.frames_decoded += 1
                if stats.frames_decoded > limits.max_frames:
                    raise MediaTooLarge(
                        f"more than {limits.max_frames} frames", reason="too-many-frames"
                    )
                if frame.width * frame.height > limits.max_frame_pixels:
                    raise MediaTooLarge(
                        f"a {frame.width}x{frame.height} frame exceeds the limit of"
                        f" {limits.max_frame_pixels} pixels",
                        reason="too-many-pixels",
                    )
                t = _timestamp(frame, tb, origin, last_t, fps)
                if origin is None and frame.pts is not None:
                    origin = frame.pts
                    t = 0.0
                last_t = t
                if t > limits.max_duration_s:
                    raise MediaTooLarge(
                        f"the stream runs past {limits.max_duration_s:.0f} s", reason="too-long"
                    )
                if start_s is not None and t + _TS_TOLERANCE_S < start_s:
                    continue
                if end_s is not None and t + _TS_TOLERANCE_S >= end_s:
                    return
                if not selector.take(t):
                    continue
                # after skipped decoding the position is estimated from the timestamp
                estimate = skipping and fps is not None
                index = round(t * (fps or 0)) if estimate else stats.frames_decoded - 1
                try:
                    pixels = _convert(frame, sampling)
                except MemoryError as exc:
                    raise MediaTooLarge("converting a frame ran out of memory") from exc
                except (av.error.FFmpegError, ValueError) as exc:
                    raise CorruptMedia(f"a decoded frame could not be converted: {exc}") from exc
                stats.frames_selected += 1
                yield VideoFrame(
                    index=index,
                    timestamp_s=t,
                    rgb=pixels,
                    full_width=frame.width,
                    full_height=frame.height,
                    key_frame=bool(frame.key_frame),
                )
    except MediaError:
        raise
    except (av.error.FFmpegError, ValueError, UnicodeDecodeError, OverflowError) as exc:
        raise CorruptMedia(f"decoding failed: {exc}") from exc
    if stats.frames_decoded == 0:
        raise CorruptMedia("no frame could be decoded", reason="corrupt")
    if end_s is None and start_s is None and not skipping:
        _check_complete(container, stream, info, stats, last_t)
    if stats.truncated and not partial_ok:
        raise CorruptMedia(
            "the video ends early (truncated or damaged): " + "; ".join(stats.notes),
            reason="truncated",
        )


def _check_complete(
    container: av.container.InputContainer,
    stream: Any,
    info: VideoInfo,
    stats: DecodeStats,
    last_t: float | None,
) -> None:
    """Mark ``stats.truncated`` when the stream ended well before what the header declares.

    Uses the declared frame count (MP4/MOV, AVI) or else a declared duration (Matroska,
    WebM...). MPEG-TS and PS declare neither (FFmpeg estimates the duration from the
    file size), so a truncated transport stream is indistinguishable from a short one.
    """
    if stream.frames:
        if stats.frames_decoded < 0.98 * stream.frames - 1:
            stats.truncated = True
            stats.notes.append(f"decoded {stats.frames_decoded} of {stream.frames} declared frames")
        return
    if container.format.name in ("mpegts", "mpeg") or last_t is None:
        return
    declared: float | None = None
    if stream.duration is not None and stream.duration > 0:
        declared = float(stream.duration * stream.time_base)
    elif not container.streams.audio and info.duration_s is not None:
        declared = info.duration_s
    if declared is None:
        return
    frame_s = 1.0 / info.fps if info.fps else 0.0
    if last_t + frame_s < 0.98 * declared - 0.25:
        stats.truncated = True
        stats.notes.append(f"the stream stops at {last_t:.2f} s of a declared {declared:.2f} s")


def _timestamp(
    frame: Any, tb: Fraction, origin: int | None, last_t: float | None, fps: float | None
) -> float:
    pts = frame.pts if frame.pts is not None else frame.dts
    if pts is None:
        step = 1.0 / fps if fps else 0.0
        return 0.0 if last_t is None else last_t + step
    return float((pts - (origin or 0)) * tb)


__all__ = [
    "DecodeStats",
    "Sampling",
    "VideoFrame",
    "VideoInfo",
    "VideoLimits",
    "iter_frames",
    "probe_video",
    "sniff_container",
]
