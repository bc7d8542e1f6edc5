"""``tessera media show ID|SHA256|MD5`` and ``tessera media list``."""

from __future__ import annotations

import click

from tessera.app import media
from tessera.cli.context import CliContext, emit, pass_app


@click.group("media")
def media_group() -> None:
    """Stored media: what was found where, and what is known about it."""


@media_group.command("show")
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True, help="One JSON document.")
@pass_app
def media_show(cli: CliContext, ref: str, as_json: bool) -> None:
    """Show media item REF (id, SHA-256, SHA-1 or MD5): sightings, series, fingerprints,
    metadata, text, markers."""
    if cli.server:
        with cli.remote() as remote:
            d = remote.media_show(ref)
    else:
        d = media.show(cli.app, cli.caller, ref)
    m = d.media
    size = f"{m.width}x{m.height} " if m.width else ""
    lines = [
        f"media {m.id}  {m.kind} {m.format or ''} {size}"
        + (f"{m.byte_size} bytes" if m.byte_size is not None else "(hash-only record)"),
        f"  sha256 {m.sha256 or '-'}",
        f"  md5    {m.md5 or '-'}",
        f"  sha1   {m.sha1 or '-'}",
        f"  first seen {m.first_seen_at.isoformat()}, submitted by {m.submissions} agencies",
        f"  series: {', '.join(m.series) or '(none)'}",
    ]
    for sg in d.sightings:
        lines.append(
            f"  seen by {sg.agency_code} in case {sg.case_number} (run {sg.run_id}): "
            f"{sg.original_path}"
        )
    for fp in d.fingerprints:
        value = fp.value if fp.value and len(fp.value) <= 80 else f"({fp.byte_size} bytes)"
        lines.append(f"  {fp.algorithm} v{fp.version} @{fp.position} q={fp.quality}: {value}")
    if d.metadata:
        lines.append(
            "  metadata: " + ", ".join(f"{k}={v}" for k, v in d.metadata.items() if v is not None)
        )
    lines += [f"  text: {t}" for t in d.text]
    lines += [
        f"  marker {mk.id} {mk.type} at {mk.box}: {mk.note or ''}"
        + (f" (series {mk.series})" if mk.series else "")
        for mk in d.markers
    ]
    emit(d, as_json, "\n".join(lines))


@media_group.command("list")
@click.option("--series", "series_name", help="Only media of this series.")
@click.option("--case", "case_number", help="Only media seen in this case (number).")
@click.option("--agency", "agency_code", help="Only media this agency submitted (or its case).")
@click.option("--limit", type=int, default=50, show_default=True, help="Items per page (1-1000).")
@click.option("--after", type=int, default=0, help="Start after this media id (next page).")
@click.option("--json", "as_json", is_flag=True, help="One JSON document.")
@pass_app
def media_list(
    cli: CliContext,
    series_name: str | None,
    case_number: str | None,
    agency_code: str | None,
    limit: int,
    after: int,
    as_json: bool,
) -> None:
    """List stored media in id order, one page at a time."""
    if cli.server:
        with cli.remote() as remote:
            page = remote.media_list(
                series=series_name, case=case_number, agency=agency_code, limit=limit, after=after
            )
    else:
        page = media.list_media(
            cli.app,
            cli.caller,
            series=series_name,
            case=case_number,
            agency=agency_code,
            limit=limit,
            after=after,
        )
    lines = [
        f"{m.id:>8d}  {m.sha256 or m.sha1 or m.md5 or '-':<64s}  {m.kind:6s} "
        f"{'-' if m.byte_size is None else m.byte_size:>10}  {', '.join(m.series)}"
        for m in page.items
    ]
    if page.next_after is not None:
        lines.append(f"(more: --after {page.next_after})")
    emit(page, as_json, "\n".join(lines) or "(no media)")
