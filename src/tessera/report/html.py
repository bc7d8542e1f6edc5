"""A self-contained HTML triage report: one file, no external assets, thumbnails blurred.

Reviewers' exposure is part of the job's risk, so thumbnails are blurred in the
pixels themselves (not with CSS that a click could undo) unless the investigator
asks for ``clear`` ones; ``none`` embeds no picture at all. Everything (styles,
images as data URIs) is inside the one file, so it opens on an air-gapped machine
and leaks no request anywhere.
"""

from __future__ import annotations

import base64
import contextlib
import html
import io
import os
import stat
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from PIL import Image, ImageFilter

from tessera.matching.triage import TriageItem, TriageReport
from tessera.media.decode import DecodeLimits, decode_image
from tessera.pipeline.label import parse_label
from tessera.safe_text import valid_unicode

Thumbnails = Literal["blurred", "clear", "none"]

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:4px 8px;
text-align:left;vertical-align:top}th{background:#f3f3f3}
.known{color:#a00;font-weight:bold}.near{color:#c60;font-weight:bold}.new{color:#060}
.error,.skipped{color:#666}.id-yes{color:#060}.id-no{color:#a00}
.path{font-family:monospace;word-break:break-all}.thumb{width:96px;height:auto}
.cards span{display:inline-block;margin-right:2em;font-size:1.1em}
"""


_THUMB_LIMITS = DecodeLimits()


def _read_regular(path: str, limit: int) -> bytes | None:
    """The bytes of a regular file, not through a symlink, never blocking on a FIFO."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return None
    with open(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode) or st.st_size > limit:
            return None
        return fh.read(limit + 1)


def thumbnail_data_uri(path: str, mode: Thumbnails, size: int = 128) -> str | None:
    """A small JPEG data URI of a local picture (blurred unless ``clear``), or None.

    The file is read as the hashing read it (a regular file, no symlink followed, no
    FIFO waited on) and decoded by ``tessera.media`` with its limits, so a report
    never opens what triage refused.
    """
    if mode == "none" or "!/" in path:
        return None
    try:
        data = _read_regular(os.fspath(parse_label(path)), _THUMB_LIMITS.max_bytes)
        if not data:
            return None
        decoded = decode_image(data, fast=True, limits=_THUMB_LIMITS)
        small = Image.fromarray(decoded.rgb)
        small.thumbnail((size, size))
        if mode == "blurred":
            small = small.filter(ImageFilter.GaussianBlur(radius=max(4, size // 12)))
        buf = io.BytesIO()
        small.save(buf, "JPEG", quality=70)
    except Exception:  # a thumbnail is a convenience; never fail the report for it
        return None
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _yes_no(flag: bool, by: str | None) -> str:
    if flag:
        return f'<span class="id-yes">identified</span>{" by " + html.escape(by) if by else ""}'
    return '<span class="id-no">not identified</span>'


def render(
    report: TriageReport,
    *,
    title: str = "Tessera triage report",
    thumbnails: Thumbnails = "blurred",
    thumb: Callable[[str, Thumbnails], str | None] = thumbnail_data_uri,
) -> str:
    """The report as one HTML string."""
    e = html.escape
    counts = report.counts()
    out = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        f"<p>Generated {datetime.now(UTC).isoformat(timespec='seconds')}. "
        f"Thumbnails: {e(thumbnails)}.</p>",
        "<div class='cards'>",
        *(f"<span><b>{counts[k]}</b> {k}</span>" for k in counts),
        f"<span><b>{len(report.series)}</b> series touched</span>",
        f"<span><b>{len(report.groups)}</b> new groups</span></div>",
        "<h2>Known series in this seizure</h2>",
    ]
    if report.series:
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
    else:
        out.append("<p>No file matched a known series.</p>")
    out.append("<h2>Files</h2><table><tr><th></th><th>Status</th><th>Path</th><th>Match</th></tr>")
    for it in report.items:
        out.append(_row(it, thumbnails, thumb))
    out.append("</table>")
    out.extend(_similar_section(report))
    if report.groups:
        out.append("<h2>New media, grouped (copies and near-copies together)</h2><ol>")
        for g in report.groups:
            out.append("<li>" + ", ".join(f"<span class='path'>{e(p)}</span>" for p in g) + "</li>")
        out.append("</ol>")
    out.append("</body></html>")
    return "\n".join(out)


_PROCESSED = frozenset({"known", "near", "new"})


def _row(it: TriageItem, mode: Thumbnails, thumb: Callable[[str, Thumbnails], str | None]) -> str:
    e = html.escape
    # thumbnails only of files triage actually read: never of skipped ones (FIFOs,
    # symlinks out of the seizure, devices) nor of ones that failed
    uri = thumb(it.path, mode) if it.status in _PROCESSED else None
    img = f"<img class='thumb' alt='' src='{uri}'>" if uri else ""
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
    elif it.status == "error":
        match = e(f"{it.file.reason}: {it.file.message}")
    elif it.group is not None:
        match = f"new group {it.group}"
    else:
        match = ""
    return (
        f"<tr><td>{img}</td><td class='{it.status}'>{it.status}</td>"
        f"<td class='path'>{e(it.path)}</td><td>{match}</td></tr>"
    )


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


def write(report: TriageReport, path: Path, **kw: object) -> None:
    """Write the report atomically (a temporary file renamed over ``path``), owner-only
    (0600): a failure leaves no empty or partial report behind."""
    text = valid_unicode(render(report, **kw))  # type: ignore[arg-type]
    fd, tmp = tempfile.mkstemp(prefix=".tessera-report-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


__all__ = ["Thumbnails", "render", "thumbnail_data_uri", "write"]
