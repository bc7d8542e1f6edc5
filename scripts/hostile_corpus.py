#!/usr/bin/env python3
"""Generate Tessera's hostile (but benign) test corpus: nothing of it is committed.

Every file is made here from generated pixels, tones and bytes: damaged and
huge-header pictures in every sniffed format, archive attacks (traversal, links,
bombs, overlapping entries, encrypted and truncated archives), damaged video and
audio containers, hostile metadata, hostile names and special files.

    python scripts/hostile_corpus.py OUT [--part light|full|heavy] [--manifest]

``light`` (224 files) is what the CI corpus test runs over; ``full`` adds more
seeds of every class (1,000+ files); ``heavy`` adds memory and CPU bombs for
``benchmarks/bench_hostile.py`` (pictures up to 14000 x 14000, archive bombs). The
manifest (``OUT/manifest.json``) maps each top-level path to its class.
"""

from __future__ import annotations

import argparse
import bz2
import gzip
import io
import json
import lzma
import os
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

Maker = Callable[[int], bytes]


# --------------------------------------------------------------------------- pictures


def _pixels(seed: int, h: int = 96, w: int = 128) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, (max(2, h // 8), max(2, w // 8), 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(small).resize((w, h), Image.Resampling.BILINEAR))


def _encode(arr: np.ndarray, fmt: str, mode: str | None = None, **kw: object) -> bytes:
    im = Image.fromarray(arr)
    if mode:
        im = im.convert(mode)
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


_FORMATS: dict[str, Callable[[int], bytes]] = {
    "jpeg": lambda s: _encode(_pixels(s), "JPEG", quality=85),
    "jpeg-progressive": lambda s: _encode(_pixels(s), "JPEG", quality=85, progressive=True),
    "jpeg-cmyk": lambda s: _encode(_pixels(s), "JPEG", mode="CMYK"),
    "png": lambda s: _encode(_pixels(s), "PNG"),
    "png-rgba": lambda s: _encode(_pixels(s), "PNG", mode="RGBA"),
    "png-palette": lambda s: _encode(_pixels(s), "PNG", mode="P"),
    "png-16bit": lambda s: _encode((_pixels(s)[:, :, 0].astype(np.uint16) * 257), "PNG"),
    "gif": lambda s: _encode(_pixels(s), "GIF"),
    "webp": lambda s: _encode(_pixels(s), "WEBP", quality=80),
    "webp-lossless": lambda s: _encode(_pixels(s), "WEBP", lossless=True),
    "bmp": lambda s: _encode(_pixels(s), "BMP"),
    "tiff": lambda s: _encode(_pixels(s), "TIFF"),
    "tiff-lzw": lambda s: _encode(_pixels(s), "TIFF", compression="tiff_lzw"),
}


def _flip(data: bytes, seed: int, n: int = 12, skip: int = 16) -> bytes:
    rng = np.random.default_rng(seed)
    out = bytearray(data)
    for _ in range(n):
        i = int(rng.integers(min(skip, len(out) - 1), len(out)))
        out[i] ^= 1 << int(rng.integers(0, 8))
    return bytes(out)


def _chunk(ctype: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(ctype + body))


def _png_size(data: bytes, w: int, h: int) -> bytes:
    ihdr = data[16:29]
    body = struct.pack(">II", w, h) + ihdr[8:]
    return data[:8] + _chunk(b"IHDR", body) + data[33:]


def _jpeg_size(data: bytes, w: int, h: int) -> bytes:
    for marker in (b"\xff\xc0", b"\xff\xc2", b"\xff\xc1"):
        i = data.find(marker)
        if i > 0:
            out = bytearray(data)
            out[i + 5 : i + 9] = struct.pack(">HH", h, w)
            return bytes(out)
    return data


def _small_zip(seed: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("inside.png", _encode(_pixels(seed + 1000), "PNG"))
    return buf.getvalue()


def _damage(fmt: str, base: bytes, seed: int) -> dict[str, bytes]:
    out = {
        "ok": base,
        "trunc10": base[: max(1, len(base) // 10)],
        "trunc50": base[: len(base) // 2],
        "trunc95": base[: len(base) * 95 // 100],
        "bitflip": _flip(base, seed),
        "header-only": base[:32],
        "zero-body": base[:64] + bytes(len(base) - 64),
        "appended-garbage": base + os.urandom(512),
        "polyglot-zip": base + _small_zip(seed),
    }
    if fmt.startswith("png"):
        out["size-0x0"] = _png_size(base, 0, 0)
        out["size-huge"] = _png_size(base, 14000, 14000)
        out["size-bomb"] = _png_size(base, 100000, 100000)
        bomb = zlib.compress(b"\0" * (2 << 20), 9)
        out["ztxt-bomb"] = base[:33] + _chunk(b"zTXt", b"Comment\0\0" + bomb) + base[33:]
        out["iccp-bomb"] = base[:33] + _chunk(b"iCCP", b"icc\0\0" + bomb) + base[33:]
        out["bad-crc-text"] = base[:33] + b"\0\0\0\4tEXtabcd\0\0\0\0" + base[33:]
    if fmt.startswith("jpeg"):
        out["size-huge-20k"] = _jpeg_size(base, 14000, 14000)[:20000] + b"\xff\xd9"
        out["size-0"] = _jpeg_size(base, 0, 0)
        out["no-eoi"] = base[:-2]
    return out


def pictures(seeds: range) -> dict[str, tuple[str, bytes]]:
    files: dict[str, tuple[str, bytes]] = {}
    for fmt, make in _FORMATS.items():
        for seed in seeds:
            for kind, data in _damage(fmt, make(seed), seed).items():
                files[f"images/{fmt}/{kind}-{seed}.{fmt.split('-')[0]}"] = (f"image:{kind}", data)
    return files


# --------------------------------------------------------------------------- metadata


def _jpeg_with(app: bytes, seed: int) -> bytes:
    base = _encode(_pixels(seed), "JPEG")
    return base[:2] + app + base[2:]


def _app1(payload: bytes) -> bytes:
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


_XMP_NS = b"http://ns.adobe.com/xap/1.0/\0"


def metadata(seeds: range) -> dict[str, tuple[str, bytes]]:
    files: dict[str, tuple[str, bytes]] = {}
    dtd = (
        '<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><r>&c;</r></x:xmpmeta>'
    )
    xxe = (
        '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">&e;</x:xmpmeta>'
    )
    for seed in seeds:
        tiff = (
            b"II*\x00" + struct.pack("<IH", 8, 1) + struct.pack("<HHII", 0x010F, 2, 0xFFFFFFF, 26)
        )
        cases = {
            "exif-huge-count": _app1(b"Exif\0\0" + tiff + b"\0\0\0\0"),
            "exif-loop": _app1(
                b"Exif\0\0II*\x00"
                + struct.pack("<IH", 8, 1)
                + struct.pack("<HHII", 0x8769, 4, 1, 8)
            ),
            "exif-garbage": _app1(b"Exif\0\0" + _flip(bytes(200), seed, 80, 0)),
            "xmp-billion-laughs": _app1(_XMP_NS + dtd.encode()),
            "xmp-utf16be-dtd": _app1(_XMP_NS + b"\xfe\xff" + dtd.encode("utf-16-be")),
            "xmp-utf16le-dtd": _app1(_XMP_NS + dtd.encode("utf-16")),
            "xmp-xxe": _app1(_XMP_NS + xxe.encode()),
            "xmp-huge-text": _app1(_XMP_NS + b"<x:xmpmeta>" + b"A" * 60000 + b"</x:xmpmeta>"),
            "comment-huge": b"\xff\xfe" + struct.pack(">H", 65535) + bytes(65533),
        }
        for name, app in cases.items():
            files[f"metadata/{name}-{seed}.jpg"] = (f"metadata:{name}", _jpeg_with(app, seed))
    return files


# --------------------------------------------------------------------------- archives


def _zip(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def _tar(members: dict[str, bytes], mode: str = "w", links: dict[str, str] | None = None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as t:  # type: ignore[call-overload]
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            t.addfile(info)
    return buf.getvalue()


def _zip_bad_utf8_flag(seed: int) -> bytes:
    data = bytearray(_zip({"pic-\xe9.png": _encode(_pixels(seed), "PNG")}))
    # set the UTF-8 flag over a cp437 name holding invalid UTF-8
    for sig in (b"PK\x03\x04", b"PK\x01\x02"):
        i = data.find(sig)
        off = 6 if sig == b"PK\x03\x04" else 8
        flags = struct.unpack_from("<H", data, i + off)[0] | 0x800
        struct.pack_into("<H", data, i + off, flags)
    return bytes(data).replace("pic-\xe9".encode("cp437"), b"pic-\xff")


def _zip_encrypted_flag(seed: int) -> bytes:
    data = bytearray(_zip({"secret.png": _encode(_pixels(seed), "PNG")}))
    for sig, off in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        i = data.find(sig)
        struct.pack_into("<H", data, i + off, struct.unpack_from("<H", data, i + off)[0] | 1)
    return bytes(data)


def _zip_overlapping(n: int, size: int) -> bytes:
    """One stored member, ``n`` central-directory entries all pointing at it."""
    body = bytes(size)
    one = _zip({"m.bin": body}, zipfile.ZIP_DEFLATED)
    cd = one.find(b"PK\x01\x02")
    eocd = one.find(b"PK\x05\x06")
    entry = one[cd:eocd]
    entries = b"".join(entry.replace(b"m.bin", f"{i:05d}".encode()) for i in range(n))
    end = bytearray(one[eocd:])
    struct.pack_into("<HHII", end, 8, n, n, len(entries), cd)
    return one[:cd] + entries + bytes(end)


def _bomb_zip(size: int) -> bytes:
    return _zip({"zeros.bin": bytes(size)})


def _nested_zip(depth: int, seed: int) -> bytes:
    data = _encode(_pixels(seed), "PNG")
    name = "deep.png"
    for d in range(depth):
        data, name = _zip({name: data}), f"level{d}.zip"
    return data


def _7z(members: dict[str, bytes], password: str | None = None, header_enc: bool = False) -> bytes:
    import py7zr  # noqa: PLC0415

    buf = io.BytesIO()
    with py7zr.SevenZipFile(buf, "w", password=password, header_encryption=header_enc) as z:
        for name, data in members.items():
            z.writestr(data, name)
    return buf.getvalue()


def archives(seeds: range, heavy: bool = False) -> dict[str, tuple[str, bytes]]:
    files: dict[str, tuple[str, bytes]] = {}
    for seed in seeds:
        pic = _encode(_pixels(seed + 500), "PNG")
        jpg = _encode(_pixels(seed + 600), "JPEG")
        plain_tar = _tar({"a.png": pic, "b.jpg": jpg})
        cases: dict[str, bytes] = {
            "zip-ok.zip": _zip({"a.png": pic, "dir/b.jpg": jpg}),
            "zip-stored.zip": _zip({"a.png": pic}, zipfile.ZIP_STORED),
            "zip-traversal.zip": _zip({"../../escape.png": pic, "/abs/root.png": jpg}),
            "zip-truncated.zip": _zip({"a.png": pic, "b.jpg": jpg})[:-40],
            "zip-truncated-half.zip": _zip({"a.png": pic, "b.jpg": jpg})[: len(pic) // 2],
            "zip-bad-utf8-flag.zip": _zip_bad_utf8_flag(seed),
            "zip-encrypted-flag.zip": _zip_encrypted_flag(seed),
            "zip-bomb-8m.zip": _bomb_zip(8 << 20),
            "zip-overlap-50.zip": _zip_overlapping(50, 1 << 16),
            "zip-nested-3.zip": _nested_zip(3, seed),
            "zip-empty.zip": _zip({}),
            "zip-dup-names.zip": _dup_zip(pic, jpg),
            "tar-ok.tar": plain_tar,
            "tar-traversal.tar": _tar({"../escape.png": pic, "/abs.png": jpg}),
            "tar-symlink.tar": _tar({"a.png": pic}, links={"link.png": "/etc/passwd"}),
            "tar-truncated.tar": plain_tar[: len(plain_tar) // 3],
            "tar-huge-pax-size.tar": _tar_pax_size(pic),
            "tgz-ok.tar.gz": gzip.compress(plain_tar),
            "tgz-truncated.tar.gz": gzip.compress(plain_tar)[:-100],
            "tbz2-ok.tar.bz2": bz2.compress(plain_tar),
            "txz-ok.tar.xz": lzma.compress(plain_tar),
            "gz-single.png.gz": gzip.compress(pic),
            "gz-bomb.bin.gz": gzip.compress(bytes(16 << 20)),
            "gz-garbage.gz": b"\x1f\x8b\x08\x00" + os.urandom(200),
            "xz-huge-dict.xz": _xz_huge_dict(),
            "7z-ok.7z": _7z({"a.png": pic, "b.jpg": jpg}),
            "7z-encrypted.7z": _7z({"a.png": pic}, password="pw"),
            "7z-encrypted-headers.7z": _7z({"a.png": pic}, password="pw", header_enc=True),
            "7z-truncated.7z": _7z({"a.png": pic, "b.jpg": jpg})[:-30],
        }
        if heavy:
            cases["zip-overlap-2000.zip"] = _zip_overlapping(2000, 4 << 20)
            cases["zip-bomb-1g.zip"] = _bomb_zip(1 << 30)
            cases["zip-nested-12.zip"] = _nested_zip(12, seed)
        for name, data in cases.items():
            files[f"archives/{seed}-{name}"] = (f"archive:{name.split('.')[0]}", data)
    return files


def _dup_zip(a: bytes, b: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("same.png", a)
        import warnings  # noqa: PLC0415

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            z.writestr("same.png", b)
    return buf.getvalue()


def _tar_pax_size(pic: bytes) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        info = tarfile.TarInfo("a.png")
        info.size = len(pic)
        info.pax_headers = {"size": str(1 << 40)}
        t.addfile(info, io.BytesIO(pic))
    return buf.getvalue()


def _xz_huge_dict() -> bytes:
    filters = [{"id": lzma.FILTER_LZMA2, "dict_size": 1 << 30}]
    return lzma.compress(b"x" * 1000, format=lzma.FORMAT_XZ, filters=filters)


# --------------------------------------------------------------------------- video / audio


def _av(container: str, seed: int, video: bool, codec: str, seconds: float = 1.0) -> bytes:
    import av  # noqa: PLC0415

    buf = io.BytesIO()
    with av.open(buf, "w", format=container) as out:
        if video:
            st = out.add_stream(codec, rate=10)
            st.width, st.height, st.pix_fmt = 64, 48, "yuv420p"
            for i in range(int(10 * seconds)):
                frame = av.VideoFrame.from_ndarray(_pixels(seed + i, 48, 64), format="rgb24")
                for pkt in st.encode(frame):
                    out.mux(pkt)
            for pkt in st.encode():
                out.mux(pkt)
        else:
            rate = 8000
            st = out.add_stream(codec, rate=rate)
            t = np.arange(int(rate * seconds)) / rate
            tone = (0.3 * np.sin(2 * np.pi * (220 + 40 * seed) * t) * 32767).astype(np.int16)
            fmt = "s16p" if codec in ("mp3", "libmp3lame") else "s16"
            frame = av.AudioFrame.from_ndarray(tone[None, :], format=fmt, layout="mono")
            frame.sample_rate = rate
            for pkt in st.encode(frame):
                out.mux(pkt)
            for pkt in st.encode():
                out.mux(pkt)
    return buf.getvalue()


_AV = {
    "mp4-h264.mp4": ("mp4", True, "libx264"),
    "mkv-mpeg4.mkv": ("matroska", True, "mpeg4"),
    "avi-mjpeg.avi": ("avi", True, "mjpeg"),
    "wav-pcm.wav": ("wav", False, "pcm_s16le"),
    "flac.flac": ("flac", False, "flac"),
}


def media(seeds: range) -> dict[str, tuple[str, bytes]]:
    files: dict[str, tuple[str, bytes]] = {}
    for seed in seeds:
        for name, (container, video, codec) in _AV.items():
            try:
                base = _av(container, seed, video, codec)
            except Exception:  # a codec missing from this PyAV build: skip that class
                continue
            kind = "video" if video else "audio"
            stem, ext = name.rsplit(".", 1)
            for dmg, data in {
                "ok": base,
                "trunc50": base[: len(base) // 2],
                "header-only": base[:64],
                "bitflip": _flip(base, seed, 30, 64),
            }.items():
                files[f"{kind}/{stem}-{dmg}-{seed}.{ext}"] = (f"{kind}:{dmg}", data)
    return files


# --------------------------------------------------------------------------- names, specials


def hostile_names(seeds: range) -> dict[str, tuple[str, bytes]]:
    names = [
        b"bad-utf8-\xff\xfe.jpg",
        b"osc-\x1b]0;pwned\x07.jpg",
        b"ansi-\x1b[31mred\x1b[0m.jpg",
        b"new\nline.jpg",
        b"tab\tname.jpg",
        b"-rf.jpg",
        b"bidi-\xe2\x80\xaegpj.exe",
        b"  spaces  .jpg",
        b"x" * 240 + b".jpg",
        b"nul-like-\xc0\x80.jpg",
        b"cr\rname.jpg",
        b"del\x7fname.jpg",
    ]
    files: dict[str, tuple[str, bytes]] = {}
    for seed in seeds:
        data = _encode(_pixels(seed + 900), "JPEG")
        for raw in names:
            files[os.fsdecode(b"names/%d-" % seed + raw)] = ("name", data)
    return files


def special_files(root: Path, seed: int) -> dict[str, str]:
    """FIFOs, links, empty and sparse files, made in place; path -> class."""
    d = root / "special" / str(seed)
    d.mkdir(parents=True, exist_ok=True)
    outside = root.parent / f"{root.name}-outside"
    outside.mkdir(exist_ok=True)
    (outside / "target.jpg").write_bytes(_encode(_pixels(seed + 77), "JPEG"))
    made: dict[str, str] = {}

    def mark(p: Path, cls: str) -> None:
        made[str(p.relative_to(root))] = cls

    os.mkfifo(d / "fifo.jpg")
    mark(d / "fifo.jpg", "special:fifo")
    (d / "link-outside.jpg").symlink_to(outside / "target.jpg")
    mark(d / "link-outside.jpg", "special:symlink-outside")
    (d / "dangling.jpg").symlink_to(d / "missing.jpg")
    mark(d / "dangling.jpg", "special:dangling")
    (d / "loop.jpg").symlink_to(d / "loop.jpg")
    mark(d / "loop.jpg", "special:loop")
    (d / "empty.jpg").write_bytes(b"")
    mark(d / "empty.jpg", "special:empty")
    (d / "folder.jpg").mkdir(exist_ok=True)
    sparse = d / "sparse-600m.bin"
    with open(sparse, "wb") as fh:
        fh.truncate(600 << 20)  # over the 512 MiB byte cap, no disk used
    mark(sparse, "special:sparse-huge")
    pic = d / "original.jpg"
    pic.write_bytes(_encode(_pixels(seed + 88), "JPEG"))
    mark(pic, "special:regular")
    os.link(pic, d / "hardlink.jpg")
    mark(d / "hardlink.jpg", "special:hardlink")
    return made


# --------------------------------------------------------------------------- heavy pictures


def heavy_pictures() -> dict[str, tuple[str, bytes]]:
    """Memory bombs under the 200 MP cap (written once; cheap to compress)."""
    files: dict[str, tuple[str, bytes]] = {}

    def flat(mode: str, size: int, fmt: str = "PNG") -> bytes:
        colour = {"RGBA": (10, 20, 30, 0), "RGB": (10, 20, 30), "L": 10, "I;16": 1000}[mode]
        buf = io.BytesIO()
        Image.new(mode, (size, size), colour).save(buf, fmt)
        return buf.getvalue()

    files["heavy/png-rgba-14000.png"] = ("heavy:png-rgba-14000", flat("RGBA", 14000))
    files["heavy/png-grey-14000.png"] = ("heavy:png-grey-14000", flat("L", 14000))
    files["heavy/png-rgb-10000.png"] = ("heavy:png-rgb-10000", flat("RGB", 10000))
    files["heavy/png-16bit-10000.png"] = ("heavy:png-16bit-10000", flat("I;16", 10000))
    files["heavy/jpeg-rgb-12000.jpg"] = ("heavy:jpeg-rgb-12000", flat("RGB", 12000, "JPEG"))
    base = _encode(_pixels(1, 480, 640), "JPEG")
    files["heavy/jpeg-patched-14000.jpg"] = (
        "heavy:jpeg-patched-14000",
        _jpeg_size(base, 14000, 14000)[:20000] + b"\xff\xd9",
    )
    files["heavy/gif-16000.gif"] = ("heavy:gif-16000", flat("L", 12000, "GIF"))
    return files


# --------------------------------------------------------------------------- driver


def generate(out: Path, part: str = "light") -> dict[str, str]:
    """Write the corpus under ``out``; returns {relative path: class}."""
    out.mkdir(parents=True, exist_ok=True)
    light = part == "light"
    seeds = range(1) if light else range(5)
    files: dict[str, tuple[str, bytes]] = {}
    files.update(pictures(seeds))
    files.update(metadata(seeds))
    files.update(archives(range(1) if light else range(4), heavy=part == "heavy"))
    files.update(media(range(1) if light else range(3)))
    files.update(hostile_names(seeds))
    if part == "heavy":
        files.update(heavy_pictures())
    manifest: dict[str, str] = {}
    for rel, (cls, data) in files.items():
        p = out / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        manifest[rel] = cls
    for seed in seeds:
        manifest.update(special_files(out, seed))
    return manifest


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--part", choices=["light", "full", "heavy"], default="light")
    ap.add_argument("--manifest", action="store_true", help="also write OUT/manifest.json")
    args = ap.parse_args()
    manifest = generate(args.out, args.part)
    if args.manifest:
        (args.out / "manifest.json").write_text(
            json.dumps(manifest, indent=1, ensure_ascii=True, default=str)
        )
    classes: dict[str, int] = {}
    for cls in manifest.values():
        top = cls.split(":")[0]
        classes[top] = classes.get(top, 0) + 1
    print(f"{len(manifest)} files in {args.out}: {dict(sorted(classes.items()))}")


if __name__ == "__main__":
    main()
