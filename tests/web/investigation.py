"""Extra material for the browser tests of the media, search and graph pages.

Ingested (with local features, camera metadata and OCR) into the web node before
its server starts, as series "Series Delta" of NL-NPU, all generated here:

* ``scene-a.jpg`` and ``scene-b.jpg``: two different rooms with the same poster on
  the wall at different places and sizes (draw a box around it on A, find it on B);
  both from camera "Canon" body 0451234, GPS 25 m apart in Amsterdam;
* ``sign.png``: a sign reading HARBOUR HOTEL (search by text), when Tesseract is
  installed.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from tessera.app import App, Caller
from tessera.app import ingest as ingest_uc
from tessera.app import series as series_uc
from tessera.demo.samples import synthetic_picture

SERIES = "Series Delta"
OWNER = "NL-NPU"
POSTER_AT_A = (110, 130, 350, 370)
"""Where the poster is in scene A (x0, y0, x1, y1), in picture pixels."""
SERIAL = "0451234"
GPS_A = (52.370200, 4.895200)
GPS_B = (52.370425, 4.895200)  # 25 m north
WORDS = "HARBOUR HOTEL"


@dataclass(frozen=True)
class Investigation:
    scene_a: int
    scene_b: int
    sign: int | None
    """None without Tesseract (the text was not read)."""
    series: str = SERIES


def _poster() -> Image.Image:
    """A busy, high-contrast patch: many keypoints, none like the rooms'."""
    im = synthetic_picture(240, 240, 4242)
    d = ImageDraw.Draw(im)
    for i in range(0, 240, 24):
        d.rectangle((i, (i * 7) % 200, i + 14, (i * 7) % 200 + 30), fill=(20, 20, 20))
        d.ellipse(((i * 5) % 210, i, (i * 5) % 210 + 26, i + 26), outline=(250, 250, 250), width=3)
    return im


def _exif(gps: tuple[float, float]) -> Image.Exif:
    ex = Image.Exif()
    ex[0x010F] = "Canon"
    ex[0x0110] = "Canon EOS 5D"
    ex.get_ifd(0x8769)[0xA431] = SERIAL  # BodySerialNumber

    def dms(v: float) -> tuple[float, float, float]:
        d = int(v)
        m = int((v - d) * 60)
        return (float(d), float(m), round(((v - d) * 60 - m) * 60, 4))

    g = ex.get_ifd(0x8825)
    g[1], g[2], g[3], g[4] = "N", dms(gps[0]), "E", dms(gps[1])
    return ex


def write(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    poster = _poster()
    a = synthetic_picture(800, 600, 901)
    a.paste(poster, POSTER_AT_A[:2])
    b = synthetic_picture(800, 600, 902)
    b.paste(poster.resize((200, 200), Image.Resampling.LANCZOS), (520, 300))
    out = {"scene_a": folder / "scene-a.jpg", "scene_b": folder / "scene-b.jpg"}
    a.save(out["scene_a"], "JPEG", quality=92, exif=_exif(GPS_A))
    b.save(out["scene_b"], "JPEG", quality=92, exif=_exif(GPS_B))
    sign = Image.new("RGB", (900, 260), (245, 245, 240))
    d = ImageDraw.Draw(sign)
    d.text((40, 70), WORDS, fill=(10, 10, 10), font=ImageFont.load_default(size=96))
    out["sign"] = folder / "sign.png"
    sign.save(out["sign"])
    return out


def add(app: App, folder: Path) -> Investigation:
    """Write the pictures under ``folder`` and ingest them as ``SERIES``."""
    op = Caller.local_operator()
    files = write(folder)
    series_uc.create(app, op, SERIES, OWNER)
    ocr = ("eng",) if shutil.which("tesseract") else ()
    ingest_uc.run(
        app,
        op,
        folder,
        agency_code=OWNER,
        case_number=f"{OWNER}-2026-002",
        series_name=SERIES,
        ocr_languages=ocr,
        workers=1,
    )
    ids = {}
    from tessera.app import media as media_uc

    for key, path in files.items():
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        ids[key] = media_uc.show(app, op, digest).media.id
    return Investigation(
        scene_a=ids["scene_a"], scene_b=ids["scene_b"], sign=ids["sign"] if ocr else None
    )


__all__ = ["GPS_A", "POSTER_AT_A", "SERIAL", "SERIES", "WORDS", "Investigation", "add"]
