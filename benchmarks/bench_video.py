"""Video fingerprinting speed on one hour of 720p H.264, against plain decoding and vpdq.

The input is generated once with PyAV and cached under ``benchmarks/_data/video/``
(gitignored): 1280x720, 30 fps, libx264 ``preset=veryfast crf=28 g=250`` (CABAC,
deblocking and B-frames, like most real H.264), a procedurally generated picture that
pans, three moving blocks, and a new scene every 30 s, so consecutive frames differ
and every 30 s the content changes completely. ``veryfast`` rather than
``ultrafast``: ultrafast streams have no B-frames, CABAC or deblocking, decode about
twice as fast as anything a camera or a website produces, and would flatter
every number below.

Each measured method runs in its own child process (one at a time) so that its peak
RSS is its own. Methods:

* ``plain decode``   PyAV, every frame decoded (frame threads), nothing else;
* ``tessera``        ``vpdq_from_video`` at its default sampling, split over all cores
                     (the point of this benchmark: the hour must take <= 60 s on 2 cores);
* ``tessera-fast``   ``vpdq_from_video`` at ``FAST_SAMPLING`` (grey, deblocking skipped);
* ``tessera-native`` ``vpdq_from_video`` at 1 frame/s, every frame decoded, PDQ on
                     the native-resolution RGB (upstream vPDQ's pipeline);
* ``vpdq``           Meta's ``vpdq`` package (C++ with FFmpeg), 1 frame/s, if it is
                     installed (``pip install vpdq`` needs FFmpeg dev headers).

Also measured, on the first ``--drift-minutes`` minutes: the Hamming distance between the
default sampling's hashes and native-resolution, fully decoded reference hashes at the
same timestamps (what the speed-ups cost).

Usage: ``python benchmarks/bench_video.py [--minutes 60] [--generate-only] [--json FILE]``.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

DATA = Path(__file__).resolve().parent / "_data" / "video"
W, H, FPS = 1280, 720, 30
SCENE_S = 30
PRESET, CRF, GOP = "veryfast", 28, 250


def video_path(minutes: float) -> Path:
    tag = f"{minutes:g}min".replace(".", "_")
    return DATA / f"synthetic_{W}x{H}_{FPS}fps_{tag}_x264_{PRESET}_crf{CRF}_g{GOP}.mp4"


# --- generation -----------------------------------------------------------------------


def _texture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A smooth random field plus two gratings, in video range 16..235 (uint8)."""
    small = rng.random((h // 40 + 2, w // 40 + 2)).astype(np.float32)
    ys = np.linspace(0, small.shape[0] - 1.001, h)
    xs = np.linspace(0, small.shape[1] - 1.001, w)
    y0, x0 = ys.astype(int), xs.astype(int)
    fy, fx = (ys - y0)[:, None].astype(np.float32), (xs - x0)[None, :].astype(np.float32)
    a, b = small[y0][:, x0], small[y0][:, x0 + 1]
    c, d = small[y0 + 1][:, x0], small[y0 + 1][:, x0 + 1]
    f = (a * (1 - fx) + b * fx) * (1 - fy) + (c * (1 - fx) + d * fx) * fy
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    k = rng.uniform(0.005, 0.03, 4).astype(np.float32)
    f = f * 140 + 30 * np.sin(xx * k[0] + yy * k[1]) + 20 * np.sin(xx * k[2] - yy * k[3]) + 50
    return np.clip(f, 16, 235).astype(np.uint8)


def generate(path: Path, minutes: float) -> None:
    """Encode the synthetic video (frames built directly in yuv420p, cheap numpy slices)."""
    import av

    n = round(minutes * 60 * FPS)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part.mp4")
    rng = np.random.default_rng(2024)
    pad_w, pad_h = 600, 400
    out = av.open(str(tmp), "w")
    s = out.add_stream("libx264", rate=FPS)
    s.width, s.height, s.pix_fmt = W, H, "yuv420p"
    s.options = {"preset": PRESET, "crf": str(CRF), "g": str(GOP)}
    s.thread_type = "AUTO"
    t0 = time.perf_counter()
    scene = SCENE_S * FPS
    y = u = v = np.zeros((1, 1), np.uint8)
    buf = np.empty((H * 3 // 2, W), np.uint8)
    for i in range(n):
        if i % scene == 0:
            y = _texture(rng, H + pad_h, W + pad_w)
            u = _texture(rng, (H + pad_h) // 2, (W + pad_w) // 2)
            v = _texture(rng, (H + pad_h) // 2, (W + pad_w) // 2)
        j = i % scene
        dx = int(j * pad_w / scene)
        dy = int(pad_h / 2 + (pad_h / 2 - 10) * np.sin(j / 200))
        buf[:H] = y[dy : dy + H, dx : dx + W]
        buf[H : H + H // 4].reshape(H // 2, W // 2)[:] = u[
            dy // 2 : dy // 2 + H // 2, dx // 2 : dx // 2 + W // 2
        ]
        buf[H + H // 4 :].reshape(H // 2, W // 2)[:] = v[
            dy // 2 : dy // 2 + H // 2, dx // 2 : dx // 2 + W // 2
        ]
        for k in range(3):
            cx = int((W - 120) * (0.5 + 0.5 * np.sin(i / (40 + 17 * k) + k)))
            cy = int((H - 120) * (0.5 + 0.5 * np.cos(i / (55 + 11 * k) + 2 * k)))
            buf[cy : cy + 120, cx : cx + 120] = 60 + 80 * k
        frame = av.VideoFrame.from_ndarray(buf, format="yuv420p")
        frame.pts = i
        for p in s.encode(frame):
            out.mux(p)
        if i and i % (FPS * 300) == 0:
            el = time.perf_counter() - t0
            print(f"  generated {i / FPS / 60:.0f} min in {el:.0f} s ({i / el:.0f} frames/s)")
    for p in s.encode():
        out.mux(p)
    out.close()
    tmp.rename(path)
    el = time.perf_counter() - t0
    print(f"generated {path.name}: {n} frames in {el:.0f} s ({n / el:.0f} frames/s)")


# --- the measured methods (each in a child process) -------------------------------------


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def child_plain(path: Path) -> dict[str, Any]:
    import av

    t = time.perf_counter()
    with av.open(str(path)) as c:
        st = c.streams.video[0]
        st.thread_type = "AUTO"
        n = sum(1 for _ in c.decode(st))
    return {"frames_decoded": n, "frames_hashed": 0, "wall_s": time.perf_counter() - t}


def child_tessera(path: Path, variant: str, out: Path | None) -> dict[str, Any]:
    from tessera.fingerprints.vpdq import dumps
    from tessera.media.video import DecodeStats, Sampling
    from tessera.media.vpdq_file import DEFAULT_SAMPLING, FAST_SAMPLING, vpdq_from_video

    sampling = {
        "tessera": DEFAULT_SAMPLING,
        "tessera-fast": FAST_SAMPLING,
        "tessera-native": Sampling.per_second(1.0),
    }[variant]
    stats = DecodeStats()
    t = time.perf_counter()
    # the default splits the hour over all cores, as `tessera hash`/`ingest` do
    workers = (os.cpu_count() or 1) if variant == "tessera" else 1
    hashes = vpdq_from_video(path, sampling, stats=stats, workers=workers)
    wall = time.perf_counter() - t
    if out is not None:
        out.write_text(dumps(hashes))
    return {
        "frames_decoded": stats.frames_decoded,
        "frames_hashed": len(hashes),
        "wall_s": wall,
        "sampling": repr(sampling),
        "quality_ge_50": sum(h.quality >= 50 for h in hashes),
    }


def child_vpdq(path: Path, out: Path | None) -> dict[str, Any]:
    import vpdq

    t = time.perf_counter()
    features = vpdq.computeHash(str(path), seconds_per_hash=1)
    wall = time.perf_counter() - t
    if out is not None:
        out.write_text(
            "".join(f"{f.frame_number},{f.quality},{f.hex},{f.timestamp:.3f}\n" for f in features)
        )
    return {"frames_decoded": None, "frames_hashed": len(features), "wall_s": wall}


def child_drift(path: Path, minutes: float) -> dict[str, Any]:
    """Hashes of the default and fast samplings against native-resolution hashes of the
    very same frames (same timestamps) from a full decode (deblocked, every frame)."""
    from tessera.fingerprints.vpdq import hash_frame
    from tessera.media.video import Sampling, iter_frames
    from tessera.media.vpdq_file import DEFAULT_SAMPLING, FAST_SAMPLING, _hash_range, blas_threads

    end = minutes * 60
    runs = {
        name: {
            round(h.timestamp, 4): h
            for h in _hash_range(
                path,
                sampling,
                None,
                exact="auto",
                stats=None,
                partial_ok=True,
                start_s=None,
                end_s=end,
                threads=0,
            )
        }
        for name, sampling in (("default", DEFAULT_SAMPLING), ("fast", FAST_SAMPLING))
    }
    wanted = set().union(*runs.values())
    ref = {}
    with blas_threads(1):
        for f in iter_frames(path, Sampling.every_frame(), end_s=end):
            t = round(f.timestamp_s, 4)
            if t in wanted:
                ref[t] = hash_frame(f.index, f.timestamp_s, f.rgb)
    out: dict[str, Any] = {}
    for name, run in runs.items():
        d = np.array(
            [
                (int.from_bytes(h.pdq, "big") ^ int.from_bytes(ref[t].pdq, "big")).bit_count()
                for t, h in run.items()
                if t in ref and ref[t].quality >= 50
            ]
        )
        out[name] = {
            "compared": len(d),
            "mean_bits": float(d.mean()) if len(d) else None,
            "p99_bits": float(np.percentile(d, 99)) if len(d) else None,
            "max_bits": int(d.max()) if len(d) else None,
            "over_31": int((d > 31).sum()) if len(d) else None,
        }
    return out


def compare_files(ours: Path, theirs: Path) -> dict[str, Any]:
    from tessera.fingerprints.vpdq import loads

    a = {h.frame_number: h for h in loads(ours.read_text())}
    b = {h.frame_number: h for h in loads(theirs.read_text())}
    common = sorted(set(a) & set(b))
    d = [
        (int.from_bytes(a[n].pdq, "big") ^ int.from_bytes(b[n].pdq, "big")).bit_count()
        for n in common
    ]
    return {
        "ours": len(a),
        "theirs": len(b),
        "common": len(common),
        "identical": sum(x == 0 for x in d),
        "max_bits": max(d) if d else None,
    }


def run_child(method: str, path: Path, extra: list[str] | None = None) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", method, "--file", str(path), *(extra or [])]
    p = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if p.returncode != 0:
        return {"error": (p.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(p.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def vpdq_status() -> str | None:
    """None if the vpdq package imports, else why not."""
    try:
        import vpdq  # noqa: F401
    except ImportError as exc:
        return (
            f"vpdq is not installed ({exc}); `pip install vpdq` builds from source and"
            " needs FFmpeg dev headers (libavcodec/format/util/swscale/device/filter-dev),"
            " pkg-config and cmake"
        )
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--drift-minutes", type=float, default=3.0)
    ap.add_argument("--generate-only", action="store_true")
    ap.add_argument("--skip", default="", help="comma-separated methods to skip")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.child:
        t_cpu = _cpu_s()
        if args.child == "plain":
            r = child_plain(args.file)
        elif args.child.startswith("tessera"):
            r = child_tessera(args.file, args.child, args.out)
        elif args.child == "vpdq":
            r = child_vpdq(args.file, args.out)
        elif args.child == "drift":
            r = child_drift(args.file, args.drift_minutes)
        else:
            raise SystemExit(f"unknown child {args.child}")
        r["cpu_s"] = _cpu_s() - t_cpu
        r["peak_rss_mb"] = _peak_rss_mb()
        print(json.dumps(r))
        return

    path = video_path(args.minutes)
    if not path.exists():
        print(f"generating {path} (once; cached) ...")
        generate(path, args.minutes)
    if args.generate_only:
        return
    skip = set(filter(None, args.skip.split(",")))
    print(
        f"input: {path.name}, {path.stat().st_size / 1e6:.0f} MB, {args.minutes:g} min;"
        f" {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f};"
        f" python {platform.python_version()}"
    )
    results: dict[str, Any] = {}
    methods = ["plain", "tessera", "tessera-fast", "tessera-native", "vpdq", "drift"]
    hash_files = {m: DATA / f"hashes_{m}.txt" for m in ("tessera-native", "vpdq")}
    why_no_vpdq = vpdq_status()
    for f in hash_files.values():
        f.unlink(missing_ok=True)
    for m in methods:
        if m in skip:
            continue
        if m == "vpdq" and why_no_vpdq:
            results[m] = {"unavailable": why_no_vpdq}
            continue
        extra = ["--drift-minutes", str(args.drift_minutes)] if m == "drift" else []
        if m in hash_files:
            extra += ["--out", str(hash_files[m])]
        results[m] = run_child(m, path, extra)
        print(f"  {m}: {json.dumps(results[m])}", flush=True)

    seconds = args.minutes * 60
    print()
    print(
        f"{'method':16s} {'wall s':>8s} {'cpu s':>8s} {'decoded/s':>10s} {'hashed':>7s}"
        f" {'x realtime':>10s} {'peak RSS MB':>11s}"
    )
    for m in methods:
        if m not in results or m == "drift":
            continue
        r = results[m]
        if "unavailable" in r or "error" in r:
            print(f"{m:16s} {r.get('unavailable') or r.get('error')}")
            continue
        fd = r.get("frames_decoded")
        rate = f"{fd / r['wall_s']:.0f}" if fd else "-"
        print(
            f"{m:16s} {r['wall_s']:8.1f} {r['cpu_s']:8.1f} {rate:>10s} {r['frames_hashed']:7d}"
            f" {seconds / r['wall_s']:10.0f} {r['peak_rss_mb']:11.0f}"
        )
    d = results.get("drift")
    if d and "error" not in d:
        print(
            f"\nPDQ drift vs native full decode of the same frames (first {args.drift_minutes:g}"
            " min, frames of quality >= 50):"
        )
        for name, x in d.items():
            if isinstance(x, dict) and x.get("compared"):
                print(
                    f"  {name:8s} {x['compared']} frames: mean {x['mean_bits']:.2f},"
                    f" p99 {x['p99_bits']:.0f}, max {x['max_bits']} bits, {x['over_31']} over 31"
                )
    if all(f.exists() for f in hash_files.values()) and "vpdq" in results:
        results["native_vs_vpdq"] = compare_files(*hash_files.values())
        c = results["native_vs_vpdq"]
        print(
            f"tessera-native vs vpdq at 1 frame/s: {c['common']} common frame numbers"
            f" of {c['ours']}/{c['theirs']}; {c['identical']} identical hashes; max"
            f" {c['max_bits']} bits"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
