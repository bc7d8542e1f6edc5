"""A self-contained HTML triage report: one file, no external assets, thumbnails blurred.

Reviewers' exposure is part of the job's risk, so thumbnails are blurred in the
pixels themselves (not with CSS that a click could undo) unless the investigator
asks for ``clear`` ones; ``none`` embeds no picture at all. Everything (styles,
images as data URIs) is inside the one file, so it opens on an air-gapped machine
and leaks no request anywhere.

A seizure can hold 100,000 files: a page with a picture each would be ~200 MB that
a browser can hardly open, and most of those files are new, which the report is
not for. So the file table comes in the order an investigator reads it (known,
near, then new files with leads, then new ones, each in walk order) rather than in
walk order with the matches scattered through it: those always get their
thumbnail, new files only the first ``max_new_thumbnails``; further new files,
errors, skipped files and archives (never pictured) are named in a compact table
of their own, and the page says how many thumbnails it left out and why. The page
is written piece by piece to its temporary file (``pieces``), never held whole.
"""

from __future__ import annotations

import contextlib
import html
import os
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from tessera.matching.triage import TriageItem, TriageReport
from tessera.report.thumbs import (
    WORKERS,
    Thumb,
    ThumbnailCache,
    Thumbnails,
    thumbnail_data_uri,
    thumbnails_in_order,
)
from tessera.safe_text import valid_unicode

MAX_NEW_THUMBNAILS = 2000
"""New files (without leads) pictured by default: ~4 MB of blurred thumbnails."""

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:4px 8px;
text-align:left;vertical-align:top}th{background:#f3f3f3}
.known{color:#a00;font-weight:bold}.near{color:#c60;font-weight:bold}.new{color:#060}
.error,.skipped{color:#666}.id-yes{color:#060}.id-no{color:#a00}
.note{background:#fff6d5;padding:6px 10px}
.path{font-family:monospace;word-break:break-all}.thumb{width:96px;height:auto}
.cards span{display:inline-block;margin-right:2em;font-size:1.1em}
"""


def _yes_no(flag: bool, by: str | None) -> str:
    if flag:
        return f'<span class="id-yes">identified</span>{" by " + html.escape(by) if by else ""}'
    return '<span class="id-no">not identified</span>'


def render(
    report: TriageReport,
    *,
    title: str = "Tessera triage report",
    thumbnails: Thumbnails = "blurred",
    max_new_thumbnails: int = MAX_NEW_THUMBNAILS,
    thumb: Thumb = thumbnail_data_uri,
    workers: int = WORKERS,
    cache: ThumbnailCache | None = None,
) -> str:
    """The report as one HTML string (small reports and tests; ``write`` streams)."""
    return "".join(
        pieces(
            report,
            title=title,
            thumbnails=thumbnails,
            max_new_thumbnails=max_new_thumbnails,
            thumb=thumb,
            workers=workers,
            cache=cache,
        )
    )


def _rank(it: TriageItem) -> int:
    if it.status in ("known", "near"):
        return 0 if it.status == "known" else 1
    if it.status == "new":
        return 2 if it.related else 3
    return 4  # error, skipped, archive: never pictured


def split_files(
    report: TriageReport, max_new_thumbnails: int
) -> tuple[list[TriageItem], list[TriageItem], int]:
    """(pictured rows in reading order, the other files, new files left unpictured)."""
    ranked = sorted(report.items, key=_rank)  # stable: walk order within a rank
    pictured: list[TriageItem] = []
    others: list[TriageItem] = []
    new_pictured = left_out = 0
    for it in ranked:
        rank = _rank(it)
        if rank < 3 or (rank == 3 and new_pictured < max_new_thumbnails):
            new_pictured += rank == 3
            pictured.append(it)
        else:
            left_out += rank == 3
            others.append(it)
    return pictured, others, left_out


def pieces(
    report: TriageReport,
    *,
    title: str = "Tessera triage report",
    thumbnails: Thumbnails = "blurred",
    max_new_thumbnails: int = MAX_NEW_THUMBNAILS,
    thumb: Thumb = thumbnail_data_uri,
    workers: int = WORKERS,
    cache: ThumbnailCache | None = None,
) -> Iterator[str]:
    """The report, a piece (a line, a table row) at a time; thumbnails are made as
    their rows come, by ``workers`` threads a few rows ahead (or taken from
    ``cache``, an earlier report's of the same run)."""
    e = html.escape
    counts = report.counts()
    pictured, others, left_out = split_files(report, max_new_thumbnails)
    note = _left_out_note(left_out, max_new_thumbnails) if thumbnails != "none" else ""
    yield from _lines(
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        f"<p>Generated {datetime.now(UTC).isoformat(timespec='seconds')}. "
        f"Thumbnails: {e(thumbnails)}.</p>",
        "<div class='cards'>",
        *(f"<span><b>{counts[k]}</b> {k}</span>" for k in counts),
        f"<span><b>{len(report.series)}</b> series touched</span>",
        f"<span><b>{len(report.groups)}</b> new groups</span></div>",
        note,
    )
    yield from _lines(*_series_section(report))
    yield "<h2>Files</h2><p>Known, near, new with leads, then new files.</p>\n"
    yield "<table><tr><th></th><th>Status</th><th>Path</th><th>Match</th></tr>\n"
    uris = thumbnails_in_order(
        (it.path if it.status in _PROCESSED else None for it in pictured),
        thumbnails,
        thumb=thumb,
        workers=workers,
        cache=cache,
    )
    with contextlib.closing(uris):  # a failed write stops the pool at once
        for it, uri in zip(pictured, uris, strict=True):
            yield _row(it, uri) + "\n"
    yield "</table>\n"
    if others:
        yield from _lines(
            "<h2>Other files</h2>",
            "<p>Without thumbnails: new files beyond the pictured ones, then errors, "
            "skipped files and archives.</p>" + note,
            "<table><tr><th>Status</th><th>Path</th><th>Detail</th></tr>",
        )
        for it in others:
            yield (
                f"<tr><td class='{it.status}'>{it.status}</td>"
                f"<td class='path'>{e(it.path)}</td><td>{_match(it)}</td></tr>\n"
            )
        yield "</table>\n"
    yield from _lines(*_similar_section(report))
    if report.groups:
        yield "<h2>New media, grouped (copies and near-copies together)</h2><ol>\n"
        for g in report.groups:
            yield "<li>" + ", ".join(f"<span class='path'>{e(p)}</span>" for p in g) + "</li>\n"
        yield "</ol>\n"
    yield "</body></html>\n"


def _lines(*parts: str) -> Iterator[str]:
    for part in parts:
        if part:
            yield part + "\n"


def _left_out_note(left_out: int, limit: int) -> str:
    if not left_out:
        return ""
    return (
        f"<p class='note'>{left_out} thumbnails left out: of the {limit + left_out} new "
        f"files without leads only the first {limit} are pictured (--html-thumbnails-max), "
        "so that the page stays small enough for a browser to open. Known and near files "
        "and files with leads all have theirs; the others are named under Other files.</p>"
    )


def _series_section(report: TriageReport) -> list[str]:
    e = html.escape
    out = ["<h2>Known series in this seizure</h2>"]
    if not report.series:
        out.append("<p>No file matched a known series.</p>")
        return out
    out.append(
        "<table><tr><th>Series</th><th>Owner</th><th>Contact</th><th>Victim</th>"
        "<th>Offender</th><th>Files (exact / near)</th><th>Baseline</th></tr>"
    )
    for h in report.series:
        st = h.status
        out.append(
            f"<tr><td>{e(st.name)}</td><td>{e(st.owner_code)} ({e(st.owner_country)}), "
            f"{e(st.owner_name)}</td><td>{e(st.contact or '')}</td>"
            f"<td>{_yes_no(st.victim_identified, st.victim_identified_by)}</td>"
            f"<td>{_yes_no(st.offender_identified, st.offender_identified_by)}</td>"
            f"<td>{len(h.paths)} ({h.exact} / {h.near})</td>"
            f"<td>{'yes' if st.baseline else 'no'}</td></tr>"
        )
    out.append("</table>")
    return out


# thumbnails only of files triage actually read: never of skipped ones (FIFOs,
# symlinks out of the seizure, devices) nor of ones that failed
_PROCESSED = frozenset({"known", "near", "new"})


def _row(it: TriageItem, uri: str | None) -> str:
    img = f"<img class='thumb' alt='' src='{uri}'>" if uri else ""
    return (
        f"<tr><td>{img}</td><td class='{it.status}'>{it.status}</td>"
        f"<td class='path'>{html.escape(it.path)}</td><td>{_match(it)}</td></tr>"
    )


def _match(it: TriageItem) -> str:
    e = html.escape
    if it.matches:
        m = it.matches[0]
        series = ", ".join(m.series) or "no series"
        how = (
            f"{m.detail.get('inliers', 0)} matching keypoints: {m.detail.get('reason', '')}"
            if m.via == "local-features"
            else f"distance {m.distance}"
        )
        match = (
            f"media #{m.media_id} via {e(m.via)} ({e(how)}); {e(series)}; "
            f"submitted by {m.submissions} agenc{'y' if m.submissions == 1 else 'ies'}"
        )
        segs = m.detail.get("segments") or ([m.detail] if "offset" in m.detail else [])
        if segs:
            sg = segs[0]
            match += (
                f"; query {sg['query_start']:.1f}-{sg['query_end']:.1f} s found at "
                f"{sg['compared_start']:.1f}-{sg['compared_end']:.1f} s"
            )
        elif m.detail.get("compared_times"):
            match += f"; at {m.detail['compared_times'][0]:.1f} s in that video"
        if len(it.matches) > 1:
            match += f"; +{len(it.matches) - 1} more"
        return match
    if it.status == "error":
        return e(f"{it.file.reason}: {it.file.message}")
    if it.group is not None:
        return f"new group {it.group}"
    return ""


_RELATION_WORDS = {
    "scene": "same scene or object",
    "marker": "shows a stored marker",
    "same-camera": "same camera body",
    "gps-near": "taken nearby (GPS)",
}


def _similar_section(report: TriageReport) -> list[str]:
    """New (and near) files sharing a scene, marker, camera or place with stored media."""
    e = html.escape
    entries = report.similar_scenes()
    out = ["<h2>Similar scenes</h2>"]
    if not entries:
        out.append("<p>No unmatched file shares a scene, marker, camera or place.</p>")
        return out
    out.append(
        "<p>Files no hash matched, and the known series they share a room, an object, a "
        "marker, a camera or a place with. These are leads, not matches.</p>"
        "<table><tr><th>Path</th><th>Series</th><th>Shared</th></tr>"
    )
    for entry in entries:
        parts = []
        for r in entry["related"]:
            words = _RELATION_WORDS.get(r["relation"], r["relation"])
            extra = ""
            if r["relation"] == "marker":
                extra = f" ({e(str(r.get('kind')))}: {e(str(r.get('note') or ''))})"
                extra += f" at {r.get('region_in_file')}"
            elif r["relation"] == "scene":
                extra = f" ({r.get('inliers')} keypoints, at {r.get('region_in_file')})"
            elif r.get("detail"):
                extra = f" ({e(str(r['detail']))})"
            series = ", ".join(r["series"]) or "no series"
            parts.append(f"media #{r['media_id']} [{e(series)}]: {e(words)}{extra}")
        out.append(
            f"<tr><td class='path'>{e(entry['path'])}</td>"
            f"<td>{e(', '.join(entry['series']) or '-')}</td>"
            f"<td>{'<br>'.join(parts)}</td></tr>"
        )
    out.append("</table>")
    return out


def write(
    report: TriageReport,
    path: Path,
    *,
    title: str = "Tessera triage report",
    thumbnails: Thumbnails = "blurred",
    max_new_thumbnails: int = MAX_NEW_THUMBNAILS,
    thumb: Thumb = thumbnail_data_uri,
    workers: int = WORKERS,
    cache: ThumbnailCache | None = None,
) -> None:
    """Write the report atomically (a temporary file, written piece by piece, renamed
    over ``path``), owner-only (0600): a failure leaves no empty or partial report."""
    fd, tmp = tempfile.mkstemp(prefix=".tessera-report-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            for piece in pieces(
                report,
                title=title,
                thumbnails=thumbnails,
                max_new_thumbnails=max_new_thumbnails,
                thumb=thumb,
                workers=workers,
                cache=cache,
            ):
                fh.write(valid_unicode(piece))
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


__all__ = [
    "MAX_NEW_THUMBNAILS",
    "ThumbnailCache",
    "Thumbnails",
    "pieces",
    "render",
    "split_files",
    "thumbnail_data_uri",
    "write",
]
