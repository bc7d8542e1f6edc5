"""``tessera demo``: a whole triage scenario on generated, benign pictures.

1. A demo database with three agencies of different countries, each owning a
   series of generated pictures; some victims and offenders are identified.
2. A generated "seizure" mixing exact copies of known pictures, edited copies
   (resized, recompressed, slightly cropped, colour-shifted, watermarked,
   mirrored), new pictures (some of them copied twice, to show grouping), and a
   few damaged files.
3. Triage of the seizure against the database: a terminal summary, JSON and a
   self-contained HTML report with blurred thumbnails.

Every picture is synthetic (``tessera.demo.samples.synthetic_picture``), so the
demo runs anywhere without any data set.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageOps

from tessera.demo.samples import synthetic_picture

AGENCIES = [
    ("NL-NPU", "NL", "National Police, Victim Identification Team", "vid-nl@example.org"),
    ("DE-BKA", "DE", "Federal Criminal Police Office, SO12", "vid-de@example.org"),
    ("AU-ACCCE", "AU", "Australian Centre to Counter Child Exploitation", "vid-au@example.org"),
]
# name, owner, victim identified by, offender identified by, seeds
SERIES = [
    ("Series Amber", "NL-NPU", "NL-NPU", None, range(100, 106)),
    ("Series Birch", "DE-BKA", None, None, range(200, 205)),
    ("Series Cedar", "AU-ACCCE", "AU-ACCCE", "DE-BKA", range(300, 304)),
]


def _jpeg(im: Image.Image, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def _png(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


@dataclass(frozen=True)
class DemoLayout:
    known: Path
    seizure: Path


def write_known(folder: Path) -> dict[str, list[Path]]:
    """Write each series' pictures to ``folder/<series>/``; returns paths by series."""
    out: dict[str, list[Path]] = {}
    for name, _owner, _v, _o, seeds in SERIES:
        sub = folder / name.lower().replace(" ", "-")
        sub.mkdir(parents=True, exist_ok=True)
        paths = []
        for seed in seeds:
            p = sub / f"img-{seed}.jpg"
            p.write_bytes(_jpeg(synthetic_picture(1200, 900, seed)))
            paths.append(p)
        out[name] = paths
    return out


def write_seizure(folder: Path) -> list[Path]:
    """Write the mixed seizure; each file name says what it is, for the reader."""
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def put(name: str, data: bytes) -> None:
        p = folder / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        written.append(p)

    amber = synthetic_picture(1200, 900, 100)
    birch = synthetic_picture(1200, 900, 201)
    cedar = synthetic_picture(1200, 900, 302)
    put("phone/DCIM/exact-copy-amber.jpg", _jpeg(amber))
    put("phone/DCIM/exact-copy-cedar.jpg", _jpeg(cedar))
    put("phone/DCIM/resized-birch.jpg", _jpeg(birch.resize((600, 450)), 85))
    put("phone/DCIM/recompressed-amber.jpg", _jpeg(amber, 35))
    w, h = birch.size
    put("laptop/cropped-birch.jpg", _jpeg(birch.crop((w // 40, h // 40, w - w // 40, h - h // 40))))
    shifted = np.asarray(cedar).astype(np.int16) + np.array([25, -10, 15], dtype=np.int16)
    put(
        "laptop/colour-shifted-cedar.png",
        _png(Image.fromarray(np.clip(shifted, 0, 255).astype(np.uint8))),
    )
    marked = amber.copy()
    ImageDraw.Draw(marked).rectangle((w - 260, h - 70, w - 20, h - 20), fill=(255, 255, 255))
    put("laptop/watermarked-amber.jpg", _jpeg(marked))
    put("laptop/mirrored-birch.jpg", _jpeg(ImageOps.mirror(birch)))
    for seed in (900, 901, 902):
        new = synthetic_picture(1000, 750, seed)
        put(f"usb/new-{seed}.jpg", _jpeg(new))
    new_copy = synthetic_picture(1000, 750, 900)
    put("usb/backup/new-900-copy.jpg", _jpeg(new_copy))
    put("usb/backup/new-900-small.png", _png(new_copy.resize((500, 375))))
    put("usb/damaged/truncated.jpg", _jpeg(synthetic_picture(800, 600, 903))[:20_000])
    put("usb/damaged/empty.jpg", b"")
    put("usb/damaged/not-a-picture.jpg", b"%PDF-1.4 this is not a picture\n")
    return written


__all__ = ["AGENCIES", "SERIES", "DemoLayout", "write_known", "write_seizure"]
