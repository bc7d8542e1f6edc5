"""OCR: accuracy on the shared scene-text sets, an exactly readable generated sign, errors."""

from __future__ import annotations

import os
import re
import statistics
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from tessera.errors import ConfigError, InvalidInput
from tessera.media import ocr
from tessera.media.decode import decode_image
from tessera.media.ocr import (
    OcrUnavailable,
    TextBox,
    char_accuracy,
    full_text,
    levenshtein,
    read_text,
)

SETS = ("ocr-opencv-contrib-scenetext", "ocr-easyocr-signs")
# Floors just below what was measured with the defaults (tesseract 5.3.0, eng only):
# opencv set mean 0.621, EasyOCR set mean 0.485 (its CJK/Thai/Korean text needs packs
# this deployment does not install, so only the Latin parts can be read).
FLOORS = {"ocr-opencv-contrib-scenetext": 0.58, "ocr-easyocr-signs": 0.45}

needs_tesseract = pytest.mark.skipif(
    ocr._tesseract_cmd() is None, reason="tesseract not installed (apt: tesseract-ocr)"
)


def transcriptions(readme: Path) -> dict[str, str]:
    """``file -> text`` from a shared README's ground-truth table.

    Single-character crops are skipped; ``a / b`` becomes ``a b``; notes in brackets
    are dropped, except "(twice ...)" which doubles the text.
    """
    out: dict[str, str] = {}
    for line in readme.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^\|\s*([\w.-]+\.(?:jpg|png))\s*\|\s*(.+?)\s*\|\s*$", line)
        if not m or "_char" in m.group(1):
            continue
        name, text = m.groups()
        text = text.split(" (")[0]
        if "(twice" in line:
            text = f"{text} / {text}"
        out[name] = " ".join(t.strip() for t in text.split(" / "))
    return out


def test_levenshtein_and_accuracy() -> None:
    assert levenshtein("", "") == 0
    assert levenshtein("kitten", "sitting") == 3
    assert levenshtein("abc", "") == 3
    assert char_accuracy("HOTEL", "hotel") == 1.0
    assert char_accuracy("Car  Parks\n", "Car Parks") == 1.0
    assert char_accuracy("", "abc") == 0.0
    assert char_accuracy("", "") == 1.0
    assert char_accuracy("HOTFL", "HOTEL") == pytest.approx(0.8)


def test_full_text_reading_order() -> None:
    boxes = [
        TextBox("Park", 90, (120, 12, 50, 20), "eng"),
        TextBox("Car", 90, (60, 10, 40, 22), "eng"),
        TextBox("Exit", 90, (60, 60, 40, 20), "eng"),
    ]
    assert full_text(boxes) == "Car Park\nExit"
    assert full_text([]) == ""


def test_readme_parser(data_dir: Path) -> None:
    gt = transcriptions(data_dir / SETS[0] / "README.md")
    assert gt["scenetext05.jpg"] == "NO PARKING NO PARKING"
    assert gt["scenetext06.jpg"] == "priory galleries at the ship"
    assert gt["scenetext_segmented_word03.jpg"] == "Customer Freephone Private Hire Service"
    assert len(gt) == 15
    gt2 = transcriptions(data_dir / SETS[1] / "README.md")
    assert gt2["chinese.jpg"] == "西 315 愚园路 东 309 W Yuyuan Rd. E"
    assert len(gt2) == 6


@pytest.fixture(scope="module")
def measured(data_dir: Path) -> dict[str, dict[str, tuple[float, str]]]:
    if ocr._tesseract_cmd() is None:
        pytest.skip("tesseract not installed (apt: tesseract-ocr tesseract-ocr-eng)")
    jobs = [
        (name, file, text)
        for name in SETS
        for file, text in transcriptions(data_dir / name / "README.md").items()
    ]

    def one(job: tuple[str, str, str]) -> tuple[float, str]:
        name, file, text = job
        rgb = decode_image((data_dir / name / file).read_bytes()).rgb
        got = full_text(read_text(rgb))
        return char_accuracy(got, text), got

    # tesseract runs single-threaded per call: read pictures side by side
    with ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1))) as pool:
        results = list(pool.map(one, jobs))
    out: dict[str, dict[str, tuple[float, str]]] = {name: {} for name in SETS}
    for (name, file, _), result in zip(jobs, results, strict=True):
        out[name][file] = result
    return out


@pytest.mark.parametrize("name", SETS)
def test_accuracy_on_shared_signs(
    name: str, measured: dict[str, dict[str, tuple[float, str]]]
) -> None:
    rows = measured[name]
    for file, (acc, got) in rows.items():
        print(f"{name}/{file}: {acc:.3f}  {got!r}")
    mean = statistics.mean(a for a, _ in rows.values())
    median = statistics.median(a for a, _ in rows.values())
    print(f"{name}: mean {mean:.3f} median {median:.3f} over {len(rows)} images")
    assert mean >= FLOORS[name]


def test_clean_shared_words_read_exactly(
    measured: dict[str, dict[str, tuple[float, str]]],
) -> None:
    rows = measured["ocr-opencv-contrib-scenetext"]
    for file in ("scenetext_segmented_word02.jpg", "scenetext_segmented_word03.jpg"):
        assert rows[file][0] == 1.0, rows[file]


def _sign_picture(lines: list[str]) -> np.ndarray:
    rng = np.random.default_rng(7)
    h, w = 480, 900
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx * 200 // w, yy * 180 // h + 40, (xx + yy) * 120 // (w + h) + 60], axis=2)
    noisy = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
    im = Image.fromarray(noisy, "RGB")
    draw = ImageDraw.Draw(im)
    font = ImageFont.load_default(size=56)
    draw.rectangle((120, 110, 780, 330), fill=(245, 240, 225), outline=(40, 40, 40), width=6)
    y = 140
    for line in lines:
        left, _, right, _ = draw.textbbox((0, 0), line, font=font)
        draw.text(((w - (right - left)) // 2, y), line, font=font, fill=(20, 30, 90))
        y += 90
    return np.asarray(im)


@needs_tesseract
def test_generated_sign_read_exactly() -> None:
    rgb = _sign_picture(["HARBOUR BAKERY", "Mill Lane 42"])
    boxes = read_text(rgb)
    assert full_text(boxes) == "HARBOUR BAKERY\nMill Lane 42"
    for b in boxes:
        x, y, w, h = b.box
        assert x >= 120 and x + w <= 780 and y >= 110 and y + h <= 330
        assert b.language == "eng" and 60 <= b.confidence <= 100


@needs_tesseract
def test_small_picture_is_upscaled_and_boxes_in_input_coordinates() -> None:
    big = Image.fromarray(_sign_picture(["CAFE"]))
    small = np.asarray(big.resize((300, 160), Image.Resampling.LANCZOS))
    boxes = read_text(small)
    assert full_text(boxes) == "CAFE"
    x, y, w, h = boxes[0].box
    assert 0 <= x < 300 and 0 <= y < 160 and x + w <= 300 and y + h <= 160


@needs_tesseract
def test_grey_input_and_bad_input() -> None:
    grey = np.asarray(Image.fromarray(_sign_picture(["OPEN"])).convert("L"))
    assert full_text(read_text(grey)) == "OPEN"
    with pytest.raises(InvalidInput):
        read_text(np.zeros((10, 10, 2), np.uint8))
    with pytest.raises(InvalidInput):
        read_text(np.zeros((10, 10, 3), np.float32))  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        read_text(grey, languages=())
    with pytest.raises(InvalidInput):
        read_text(grey, languages=("eng; rm -rf",))


@needs_tesseract
def test_missing_language_pack_names_debian_package() -> None:
    with pytest.raises(OcrUnavailable) as err:
        read_text(np.zeros((50, 50, 3), np.uint8), languages=("eng", "zzz_test"))
    assert isinstance(err.value, ConfigError)
    assert err.value.reason == "ocr-language-missing"
    assert "tesseract-ocr-zzz-test" in err.value.message
    assert "eng" in ocr.available_languages()


def test_missing_tesseract_names_debian_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ocr, "_tesseract_cmd", lambda: None)
    with pytest.raises(OcrUnavailable) as err:
        read_text(np.zeros((50, 50, 3), np.uint8))
    assert err.value.reason == "ocr-unavailable"
    assert "tesseract-ocr tesseract-ocr-eng" in err.value.message
