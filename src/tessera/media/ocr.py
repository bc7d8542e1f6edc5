"""Text in pictures (shop signs, town names, notices), read with Tesseract.

Words read here are stored and searched so that an analyst can find every picture
showing, say, the same shop fascia. Tesseract is an external program: Debian packages
``tesseract-ocr`` and one ``tesseract-ocr-<lang>`` per language (``tesseract-ocr-eng``
for English). When it or a configured language pack is missing, ``read_text`` raises
``OcrUnavailable`` (a ``ConfigError``, reason ``ocr-unavailable`` or
``ocr-language-missing``) naming the packages to install, never a bare crash.

Pipeline (each choice measured on the shared scene-text sets, see
``benchmarks/bench_ocr.py``):

* the picture is converted to grey (Tesseract binarises grey internally, colour adds
  nothing but bytes);
* small pictures (shorter side below ``upscale_below``) are enlarged with a Lanczos
  filter, since Tesseract reads glyphs best at 20-40 px cap height;
* it is read under several page-segmentation modes (default PSM 11, *sparse text*,
  for photographed signs, and PSM 6, *one uniform block*, for posters and crops);
  the reading with the larger confidence-weighted character mass wins;
* words below ``min_confidence`` (0-100) and words with no letter or digit are dropped;
* Tesseract runs single-threaded (``OMP_THREAD_LIMIT=1`` in its environment unless the
  deployment sets it): its OpenMP threading made it 3x *slower* on 2 cores (2.6 s vs
  0.85 s per image, measured); parallelise across pictures instead.

Boxes are in the coordinates of the ``rgb`` array passed in (after any EXIF
orientation ``decode_image`` applied), as ``(x, y, width, height)``.
"""

from __future__ import annotations

import collections
import functools
import os
import shutil
import subprocess
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytesseract  # type: ignore[import-untyped]
from numpy.typing import NDArray
from PIL import Image

from tessera.errors import InvalidInput, OcrUnavailable

DEFAULT_LANGUAGES: tuple[str, ...] = ("eng",)
DEFAULT_MIN_CONFIDENCE = 60.0
"""Words Tesseract scores below this (0-100) are dropped. On the shared scene-text
photos most words under 60 were noise read from textures: mean character accuracy
0.50 at 40, 0.53 at 60, 0.61 at 70 on the opencv set but 0.42 / 0.42 / 0.40 on the
EasyOCR set (measured with PSM 11+3); 60 is the compromise."""
DEFAULT_PSMS: tuple[int, ...] = (11, 6)
"""Sparse text (11) and a single uniform block (6). Measured mean character accuracy
(opencv / EasyOCR sets): 11 alone 0.48 / 0.43, 11+3 0.53 / 0.42, 11+6 0.62 / 0.49."""
DEFAULT_UPSCALE_BELOW = 300
"""Pictures whose shorter side is below this many pixels are enlarged towards it."""
MAX_UPSCALE = 4.0
DEFAULT_TIMEOUT_S = 60.0

APT_PACKAGES = ("tesseract-ocr", "tesseract-ocr-eng")


@dataclass(frozen=True)
class TextBox:
    """One word read from a picture."""

    text: str
    confidence: float
    """Tesseract's word confidence, 0-100."""
    box: tuple[int, int, int, int]
    """``(x, y, width, height)`` in the input picture's pixels."""
    language: str
    """The Tesseract language string the word was read with (``eng``, ``eng+fra``)."""


def _apt_name(lang: str) -> str:
    return "tesseract-ocr-" + lang.lower().replace("_", "-")


@functools.cache
def _tesseract_cmd() -> str | None:
    cmd = str(pytesseract.pytesseract.tesseract_cmd)
    return shutil.which(cmd)


@functools.cache
def _installed_languages(cmd: str) -> frozenset[str]:
    try:
        out = subprocess.run(
            [cmd, "--list-langs"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise OcrUnavailable(f"tesseract could not be run ({exc})") from exc
    lines = (out.stdout + "\n" + out.stderr).splitlines()
    return frozenset(
        s.strip() for s in lines if s.strip() and " " not in s.strip() and ":" not in s
    )


def available_languages() -> frozenset[str]:
    """Language packs Tesseract has installed (``eng``, ``osd``, ...)."""
    cmd = _tesseract_cmd()
    if cmd is None:
        raise OcrUnavailable(
            "OCR needs the tesseract program, which is not installed; on Debian/Ubuntu: "
            f"apt-get install {' '.join(APT_PACKAGES)}"
        )
    return _installed_languages(cmd)


def check_languages(languages: Sequence[str]) -> str:
    """Check Tesseract and every pack in ``languages``; return the ``-l`` string.

    Raises ``InvalidInput`` for a malformed name and ``OcrUnavailable`` naming the
    Debian packages to install for anything missing.
    """
    if isinstance(languages, str):
        languages = tuple(languages.split("+"))
    langs = tuple(dict.fromkeys(lang.strip() for lang in languages if lang.strip()))
    if not langs:
        raise InvalidInput("at least one OCR language is needed (e.g. 'eng')")
    for lang in langs:
        if not all(c.isascii() and (c.isalnum() or c in "_-") for c in lang):
            raise InvalidInput(f"not a Tesseract language name: {lang!r}")
    have = available_languages()
    missing = [lang for lang in langs if lang not in have]
    if missing:
        pkgs = " ".join(_apt_name(lang) for lang in missing)
        raise OcrUnavailable(
            f"Tesseract language pack(s) {', '.join(missing)} not installed "
            f"(installed: {', '.join(sorted(have)) or 'none'}); on Debian/Ubuntu: "
            f"apt-get install {pkgs}",
            reason="ocr-language-missing",
        )
    return "+".join(langs)


def _grey(rgb: NDArray[np.uint8]) -> Image.Image:
    if rgb.ndim == 2:
        return Image.fromarray(np.ascontiguousarray(rgb), mode="L")
    if rgb.ndim != 3 or rgb.shape[2] not in (3, 4):
        raise InvalidInput(f"expected an HxWx3 RGB array, got shape {rgb.shape}")
    return Image.fromarray(np.ascontiguousarray(rgb[:, :, :3]), mode="RGB").convert("L")


def _prepare(rgb: NDArray[np.uint8], upscale_below: int) -> tuple[Image.Image, float]:
    if rgb.dtype != np.uint8:
        raise InvalidInput(f"expected uint8 pixels, got {rgb.dtype}")
    im = _grey(rgb)
    short = min(im.size)
    if short <= 0:
        raise InvalidInput("empty picture")
    scale = 1.0
    if upscale_below and short < upscale_below:
        scale = min(MAX_UPSCALE, upscale_below / short)
        size = (round(im.width * scale), round(im.height * scale))
        im = im.resize(size, Image.Resampling.LANCZOS)
        scale = im.width / rgb.shape[1]
    return im, scale


def _has_word_char(text: str) -> bool:
    return any(unicodedata.category(c)[0] in "LN" for c in text)


def _single_threaded_tesseract(module: Any) -> None:
    # pytesseract spawns tesseract with ``env=pytesseract.pytesseract.environ`` (the live
    # ``os.environ``). Overlay OMP_THREAD_LIMIT=1 there, for tesseract only, rather than
    # changing this process's environment (which would limit faiss/OpenMP here too).
    if "OMP_THREAD_LIMIT" in os.environ:
        return
    if getattr(module, "environ", None) is os.environ:
        module.environ = collections.ChainMap({"OMP_THREAD_LIMIT": "1"}, os.environ)


def _run(
    im: Image.Image, lang: str, psm: int, *, scale: float, timeout: float, min_conf: float
) -> list[TextBox]:
    _single_threaded_tesseract(pytesseract.pytesseract)
    try:
        data: dict[str, list[Any]] = pytesseract.image_to_data(
            im,
            lang=lang,
            config=f"--psm {int(psm)}",
            output_type=pytesseract.Output.DICT,
            timeout=timeout,
        )
    except pytesseract.TesseractNotFoundError as exc:
        raise OcrUnavailable(
            f"tesseract is not installed; apt-get install {' '.join(APT_PACKAGES)}"
        ) from exc
    except RuntimeError as exc:  # pytesseract raises RuntimeError on timeout
        raise OcrUnavailable(f"tesseract failed: {exc}", reason="ocr-failed") from exc
    except pytesseract.TesseractError as exc:
        raise OcrUnavailable(f"tesseract failed: {exc}", reason="ocr-failed") from exc
    boxes: list[TextBox] = []
    for i, raw in enumerate(data.get("text", [])):
        text = unicodedata.normalize("NFC", str(raw)).strip()
        try:
            conf = float(data["conf"][i])
        except (TypeError, ValueError):
            continue
        if not text or conf < min_conf or not _has_word_char(text):
            continue
        x, y = int(data["left"][i]), int(data["top"][i])
        w, h = int(data["width"][i]), int(data["height"][i])
        box = (
            round(x / scale),
            round(y / scale),
            max(1, round(w / scale)),
            max(1, round(h / scale)),
        )
        boxes.append(TextBox(text=text, confidence=conf, box=box, language=lang))
    return boxes


def _score(boxes: Iterable[TextBox]) -> float:
    return sum(b.confidence / 100.0 * len(b.text) for b in boxes)


def read_text(
    rgb: NDArray[np.uint8],
    *,
    languages: Sequence[str] = DEFAULT_LANGUAGES,
    min_confidence: float = DEFAULT_MIN_CONFIDENCE,
    psms: Sequence[int] = DEFAULT_PSMS,
    upscale_below: int = DEFAULT_UPSCALE_BELOW,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> list[TextBox]:
    """Read the words in an RGB (or grey) picture, in reading order.

    ``languages`` are Tesseract pack names (``eng``, ``fra``, ``chi_sim``...), checked
    against ``tesseract --list-langs``. Each PSM in ``psms`` is tried and the reading
    with the largest sum of ``confidence x length`` over kept words is returned.
    """
    lang = check_languages(languages)
    if not psms:
        raise InvalidInput("at least one page-segmentation mode is needed")
    im, scale = _prepare(rgb, upscale_below)
    best: list[TextBox] = []
    best_score = -1.0
    for psm in psms:
        boxes = _run(im, lang, psm, scale=scale, timeout=timeout, min_conf=min_confidence)
        score = _score(boxes)
        if score > best_score:
            best, best_score = boxes, score
    return _reading_order(best)


def _reading_order(boxes: Sequence[TextBox]) -> list[TextBox]:
    return [b for line in _lines(boxes) for b in line]


def _lines(boxes: Sequence[TextBox]) -> list[list[TextBox]]:
    """Group boxes into lines (vertical-centre overlap), top to bottom, left to right."""
    lines: list[list[TextBox]] = []
    spans: list[tuple[float, float]] = []
    for b in sorted(boxes, key=lambda b: (b.box[1] + b.box[3] / 2, b.box[0])):
        cy = b.box[1] + b.box[3] / 2
        if spans and spans[-1][0] <= cy <= spans[-1][1]:
            lines[-1].append(b)
            top, bottom = spans[-1]
            spans[-1] = (min(top, b.box[1]), max(bottom, b.box[1] + b.box[3]))
        else:
            lines.append([b])
            spans.append((b.box[1], b.box[1] + b.box[3]))
    return [sorted(line, key=lambda b: b.box[0]) for line in lines]


def full_text(boxes: Sequence[TextBox]) -> str:
    """The words as text: one line per text line, words separated by single spaces."""
    return "\n".join(" ".join(b.text for b in line) for line in _lines(boxes))


def levenshtein(a: str, b: str) -> int:
    """Edit distance (insertions, deletions, substitutions, all cost 1)."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def normalise_for_comparison(text: str) -> str:
    """Case-folded, NFKC, whitespace collapsed: what search compares."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def char_accuracy(predicted: str, reference: str) -> float:
    """``1 - levenshtein / max(len)`` after ``normalise_for_comparison``; 1.0 is exact."""
    p, r = normalise_for_comparison(predicted), normalise_for_comparison(reference)
    if not p and not r:
        return 1.0
    return 1.0 - levenshtein(p, r) / max(len(p), len(r))


__all__ = [
    "APT_PACKAGES",
    "DEFAULT_LANGUAGES",
    "DEFAULT_MIN_CONFIDENCE",
    "DEFAULT_PSMS",
    "OcrUnavailable",
    "TextBox",
    "available_languages",
    "char_accuracy",
    "check_languages",
    "full_text",
    "levenshtein",
    "normalise_for_comparison",
    "read_text",
]
