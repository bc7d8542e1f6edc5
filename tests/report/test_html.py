"""The HTML triage report at seizure scale: parallel thumbnails, a limit on new
files' pictures, streamed atomic writing (issue 16's size)."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest

from tessera.demo.samples import synthetic_picture
from tessera.matching.triage.report import Match, RelatedMatch, TriageItem, TriageReport
from tessera.pipeline.result import FileResult
from tessera.report import html as html_report
from tessera.report.thumbs import thumbnail_data_uri, thumbnails_in_order

IMG = re.compile(r"<img class='thumb' alt='' src='(data:image/jpeg;base64,[^']+)'>")


def _pictures(folder: Path, n: int, size: int = 96) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        p = folder / f"p{i:03d}.jpg"
        synthetic_picture(size + 8 * (i % 5), size, 100 + i).save(p, "JPEG", quality=85)
        paths.append(p)
    return paths


def _item(path: Path | str, status: str, **kw: object) -> TriageItem:
    file = FileResult(str(path), "error" if status == "error" else "ok")
    if status == "error":
        file = FileResult(str(path), "error", reason="corrupt", message="truncated")
    return TriageItem(file=file, status=status, **kw)  # type: ignore[arg-type]


def _rows(text: str, table_heading: str) -> list[str]:
    start = text.index(table_heading)
    end = text.index("</table>", start)
    return [r for r in text[start:end].split("<tr>")[1:] if "class='path'" in r]


@pytest.fixture(scope="module")
def seizure(tmp_path_factory: pytest.TempPathFactory) -> TriageReport:
    """Walk order mixes them: 8 new, a known, a near, a new file with a lead, an
    error and an unreadable 'picture' that triage called new."""
    root = tmp_path_factory.mktemp("seizure")
    pics = _pictures(root, 12)
    (root / "garbage.jpg").write_bytes(b"\xff\xd8\xff not a jpeg at all")
    match = Match(7, "pdq", 12, 1, ("Amber",))
    lead = RelatedMatch(9, "same-camera", ("Birch",))
    items = [_item(p, "new") for p in pics[:4]]
    items.append(_item(pics[4], "known", matches=[Match(3, "sha256", 0, 1, ("Amber",))]))
    items += [_item(p, "new") for p in pics[5:8]]
    items.append(_item(pics[8], "near", matches=[match]))
    items.append(_item(root / "broken.jpg", "error"))
    items.append(_item(pics[9], "new", related=[lead]))
    items.append(_item(root / "garbage.jpg", "new"))
    items += [_item(p, "new") for p in pics[10:]]
    return TriageReport(items=items, series=[], groups=[])


def test_parallel_thumbnails_are_the_serial_bytes_in_order(tmp_path: Path) -> None:
    """Several threads, a small look-ahead: each picture's data URI is the one the
    serial ``thumbnail_data_uri`` makes, at its own place, Nones kept in place."""
    pics = [str(p) for p in _pictures(tmp_path, 14)]
    asked: list[str | None] = [*pics[:5], None, *pics[5:], str(tmp_path / "missing.jpg")]
    for mode in ("blurred", "clear"):
        serial = [None if p is None else thumbnail_data_uri(p, mode) for p in asked]
        parallel = list(thumbnails_in_order(asked, mode, workers=3, ahead=2))
        assert parallel == serial
        assert sum(u is not None for u in parallel) == 14  # all real pictures made
        assert len(set(parallel[:5])) == 5  # distinct pictures, not one repeated


def test_a_failing_thumbnail_costs_only_its_picture(tmp_path: Path) -> None:
    """An exception in the thumbnail maker (or an unreadable file) leaves that row
    without a picture, the others keep theirs."""
    pics = [str(p) for p in _pictures(tmp_path, 4)]

    def thumb(path: str, mode: html_report.Thumbnails) -> str | None:
        if path == pics[1]:
            raise OSError("disk went away")
        return thumbnail_data_uri(path, mode)

    out = list(thumbnails_in_order(pics, "blurred", thumb=thumb, workers=2))
    assert out[1] is None and all(out[i] for i in (0, 2, 3))


def test_limit_leaves_out_new_pictures_but_names_every_file(seizure: TriageReport) -> None:
    text = html_report.render(seizure, max_new_thumbnails=3, workers=2)
    files = _rows(text, "<h2>Files</h2>")
    others = _rows(text, "<h2>Other files</h2>")
    names = [Path(it.path).name for it in seizure.items]
    # reading order: known, near, the lead, then the first 3 new in walk order
    assert [re.search(r"(p\d+|garbage)\.jpg", r).group(0) for r in files] == [  # type: ignore[union-attr]
        "p004.jpg", "p008.jpg", "p009.jpg", "p000.jpg", "p001.jpg", "p002.jpg",
    ]  # fmt: skip
    assert all("<img" in r for r in files)
    assert others and not any("<img" in r for r in others)
    for name in names:  # every file named exactly once in the file tables
        assert sum(name in r for r in files + others) == 1, name
    assert "broken.jpg" in others[-1]  # errors after the new files left out
    left_out = sum(it.status == "new" and not it.related for it in seizure.items) - 3
    assert f"{left_out} thumbnails left out" in text
    assert "--html-thumbnails-max" in text


def test_no_note_and_every_new_file_pictured_under_the_limit(seizure: TriageReport) -> None:
    text = html_report.render(seizure, thumbnails="clear", workers=2)
    assert "thumbnails left out" not in text
    files = _rows(text, "<h2>Files</h2>")
    unreadable = [r for r in files if "garbage.jpg" in r]
    assert len(unreadable) == 1 and "<img" not in unreadable[0]  # only its picture lost
    assert sum("<img" in r for r in files) == 12
    assert ["broken.jpg" in r for r in _rows(text, "<h2>Other files</h2>")] == [True]


def test_thumbnails_none_embeds_nothing_and_notes_nothing(seizure: TriageReport) -> None:
    text = html_report.render(seizure, thumbnails="none", max_new_thumbnails=1)
    assert "data:image" not in text and "thumbnails left out" not in text


def test_written_report_is_the_rendered_one_complete_and_owner_only(
    seizure: TriageReport, tmp_path: Path
) -> None:
    out = tmp_path / "report.html"
    html_report.write(seizure, out, max_new_thumbnails=2, workers=3)
    text = out.read_text("utf-8")
    assert text.rstrip().endswith("</html>")
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    rendered = html_report.render(seizure, max_new_thumbnails=2, workers=1)
    strip = re.compile(r"Generated [^.]+\.")  # the only line that differs: the time
    assert strip.sub("", text) == strip.sub("", rendered)
    assert IMG.findall(text) == IMG.findall(rendered)
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]  # no temporary left


def test_a_failed_write_leaves_no_report_and_no_temporary(
    seizure: TriageReport, tmp_path: Path
) -> None:
    """The page is streamed to a temporary file: a failure half-way through removes
    it and never replaces the earlier report."""
    out = tmp_path / "report.html"
    out.write_text("earlier")
    calls = []

    def thumb(path: str, mode: html_report.Thumbnails) -> str | None:
        calls.append(path)
        if len(calls) == 3:
            raise KeyboardInterrupt  # not an Exception: it ends the report
        return None

    with pytest.raises(KeyboardInterrupt):
        html_report.write(seizure, out, thumb=thumb, workers=1)
    assert out.read_text() == "earlier"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_render_keeps_a_picture_of_a_real_file_blurred(tmp_path: Path) -> None:
    (p,) = _pictures(tmp_path, 1, size=128)
    rep = TriageReport(items=[_item(p, "known")], series=[], groups=[])
    (uri,) = IMG.findall(html_report.render(rep))
    assert uri == thumbnail_data_uri(str(p), "blurred")


def test_a_second_report_of_the_run_reuses_the_pictures_made(seizure: TriageReport) -> None:
    """triage writes the report twice (verdicts, then leads): the second one takes
    the pictures from the cache, the same bytes, and makes only those not made yet."""
    calls: list[str] = []

    def thumb(path: str, mode: html_report.Thumbnails) -> str | None:
        calls.append(path)
        return thumbnail_data_uri(path, mode)

    cache = html_report.ThumbnailCache()
    first = html_report.render(seizure, max_new_thumbnails=2, thumb=thumb, cache=cache)
    made = len(calls)
    assert made == 5  # known, near, lead, 2 new
    again = html_report.render(seizure, max_new_thumbnails=3, thumb=thumb, cache=cache)
    assert len(calls) == made + 1  # only the third new file
    assert IMG.findall(again)[: len(IMG.findall(first))] == IMG.findall(first)
    tiny = html_report.ThumbnailCache(budget=0)  # nothing kept: all made again
    html_report.render(seizure, max_new_thumbnails=2, thumb=thumb, cache=tiny)
    html_report.render(seizure, max_new_thumbnails=2, thumb=thumb, cache=tiny)
    assert len(calls) == made + 1 + 2 * made
