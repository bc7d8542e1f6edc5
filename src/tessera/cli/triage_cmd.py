"""``tessera triage PATH...``: known, near or new, for every file of a seizure."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from tessera.app import hashing, triage
from tessera.cli.context import CliContext
from tessera.cli.exit_codes import ExitCode
from tessera.cli.progress import StageBars, progress_bar
from tessera.fingerprints.pdq import MATCH_THRESHOLD, QUALITY_THRESHOLD
from tessera.matching.triage import TriageItem, TriageReport
from tessera.pipeline.options import HashOptions
from tessera.report import html as html_report
from tessera.safe_text import for_terminal, json_safe


def _identified(flag: bool, by: str | None) -> str:
    if not flag:
        return "NOT identified"
    return f"identified by {by}" if by else "identified (by an agency not recorded)"


def print_summary(report: TriageReport) -> None:
    """The terminal summary: counts, then each known series with its status."""
    c = report.counts()
    click.echo(
        f"{len(report.items)} files: {c['known']} known, {c['near']} near a known item, "
        f"{c['new']} new in {len(report.groups)} groups, {c['error']} errors, "
        f"{c['skipped']} skipped" + (f", {c['archive']} archives opened" if c["archive"] else "")
    )
    for h in report.series:
        st = h.status
        victim = _identified(st.victim_identified, st.victim_identified_by)
        offender = _identified(st.offender_identified, st.offender_identified_by)
        click.echo(
            f"  series {st.name!r} ({st.owner_code}, {st.owner_country}): {len(h.paths)} files "
            f"({h.exact} exact, {h.near} near); victim {victim}; offender {offender}; "
            f"contact: {st.contact or '-'}"
        )
    unseries = [
        it
        for it in report.items
        if it.status in ("known", "near") and not any(m.series for m in it.matches)
    ]
    if unseries:
        click.echo(f"  {len(unseries)} matched files belong to no series")
    copies = sum(1 for it in report.items if any(m.via == "local-features" for m in it.matches))
    if copies:
        click.echo(f"  {copies} near files are edited copies found by local features")
    similar = report.similar_scenes()
    if similar:
        click.echo(
            f"  {len(similar)} files share a scene, marker, camera or place with stored media:"
        )
        for entry in similar:
            kinds = sorted({r["relation"] for r in entry["related"]})
            series = ", ".join(entry["series"]) or "no series"
            click.echo(f"    {entry['path']}: {', '.join(kinds)} ({series})")


@click.command("triage")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Write the full result as JSON to stdout.")
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write a self-contained HTML report here.",
)
@click.option(
    "--thumbnails",
    type=click.Choice(["blurred", "clear", "none"]),
    default="blurred",
    show_default=True,
    help="Thumbnails in the HTML report.",
)
@click.option(
    "--html-thumbnails-max",
    "html_thumbnails_max",
    type=click.IntRange(min=0),
    default=html_report.MAX_NEW_THUMBNAILS,
    show_default=True,
    help="In the --html report, at most this many new files (without leads) get a "
    "thumbnail; further new files are named in a table without pictures, so that a "
    "big seizure's page stays small enough for a browser. Known and near files and "
    "files with leads always get theirs.",
)
@click.option(
    "--radius",
    type=click.IntRange(0, 256),
    default=MATCH_THRESHOLD,
    show_default=True,
    help="PDQ distance at or below which a file is near a known item.",
)
@click.option(
    "--min-quality",
    type=click.IntRange(0, 100),
    default=QUALITY_THRESHOLD,
    show_default=True,
    help="Ignore PDQ hashes below this quality (both sides).",
)
@click.option("--dihedral", is_flag=True, help="Also match rotated and mirrored copies.")
@click.option(
    "--scenes/--no-scenes",
    default=True,
    show_default=True,
    help="Second stage for files no hash matched: edited copies (near), similar scenes, "
    "markers, same camera, nearby GPS.",
)
@click.option(
    "--leads/--no-leads",
    default=True,
    show_default=True,
    help="With --scenes: after the verdicts, read the still-new files again for similar "
    "scenes, markers, same camera, nearby GPS (and copies the quick check missed).",
)
@click.option(
    "--stream",
    is_flag=True,
    help="JSON lines on stdout as results come: each file's verdict once the verdicts "
    "are known, then each file's leads as found, then the whole --json document.",
)
@click.option("--workers", type=click.IntRange(min=1), help="Processes (default: all cores).")
@click.option(
    "--cluster",
    metavar="tcp://HOST:8786",
    help="Dask scheduler: hashing and features run on its workers (files at the same "
    "path on every worker); writes and results stay here.",
)
@click.option("--progress/--no-progress", default=None, help="Progress bar on stderr.")
@click.option(
    "--resume/--no-resume",
    default=True,
    show_default=True,
    help="Go on from an interrupted run of the same command (its journal under the "
    "home folder); --no-resume discards that journal and starts over.",
)
@click.option(
    "--agency",
    help="Act for this agency (default: TESSERA_NODE_AGENCY): hits notify the series' "
    "owners and count for the flood guard; the report shows what the agency may see.",
)
@click.pass_context
def triage_command(
    ctx: click.Context,
    paths: tuple[Path, ...],
    as_json: bool,
    html_path: Path | None,
    thumbnails: html_report.Thumbnails,
    html_thumbnails_max: int,
    radius: int,
    min_quality: int,
    dihedral: bool,
    scenes: bool,
    leads: bool,
    stream: bool,
    workers: int | None,
    cluster: str | None,
    progress: bool | None,
    resume: bool,
    agency: str | None,
) -> None:
    """Tell for every file under PATHS whether it is known, near a known item, or new.

    Exit status: 10 at least one file known or near (even if others failed), else 1
    at least one file failed (a missing PATH included), else 0.

    The verdicts come first (hashes, then a quick local-features copy check); the
    leads (similar scenes, markers, camera, GPS) follow as a stage of their own with
    its own progress. --stream writes them as they come; --html is written when the
    verdicts are known and again when the leads are.

    An interrupted run (crash, Ctrl-C, reboot) goes on where it stopped when the same
    command is run again: files already decided are not read again, with the same
    report as an uninterrupted run. The journal that allows it (hashes and match
    results of the files, never pixels) is kept under the home folder, in
    triage-runs/, until the report is made.
    """
    check_output_path(html_path)
    cli = ctx.find_object(CliContext) or ctx.ensure_object(CliContext)
    show = progress if progress is not None else sys.stderr.isatty()
    if cli.server:
        if cluster:
            raise click.BadParameter(
                "not with --server (the server hashes)", param_hint="--cluster"
            )
        if html_path is not None:
            raise click.BadParameter("not with --server (no media to draw)", param_hint="--html")
        ctx.exit(_remote(cli, paths, as_json, radius, min_quality, dihedral, workers, show))

    made = html_report.ThumbnailCache()  # the second report reuses the first's pictures

    def write_html(report: TriageReport, path: Path) -> None:
        html_report.write(
            report,
            path,
            thumbnails=thumbnails,
            max_new_thumbnails=html_thumbnails_max,
            cache=made,
        )

    streamed: list[bool] = []

    def verdicts_known(report: TriageReport) -> None:
        if stream:
            for it in report.items:
                _line({"stage": "verdict", **it.to_json()})
            streamed.append(True)
        if html_path is not None:
            write_html(report, html_path)

    def lead_found(item: TriageItem) -> None:
        if stream:
            doc = item.to_json()
            _line(
                {
                    "stage": "leads",
                    "path": doc["path"],
                    "status": doc["status"],
                    "similar": doc["similar"],
                }
            )

    resumed: dict[str, int] = {}

    def resumed_from_journal(stage: str, n: int) -> None:
        resumed[stage] = n
        what = "files" if stage == "files" else "files' leads"
        click.echo(f"resuming an interrupted triage: {n} {what} taken from its journal", err=True)

    report = triage.run(
        cli.app,
        cli.acting_for(agency),
        paths,
        radius=radius,
        min_quality=min_quality,
        dihedral=dihedral,
        scenes=scenes,
        workers=workers,
        progress=StageBars(enabled=show),
        cluster=cluster,
        leads=leads,
        on_verdicts=verdicts_known if stream or html_path is not None else None,
        on_lead=lead_found if stream else None,
        resume=resume,
        on_note=lambda text: click.echo(f"warning: {text}", err=True),
        on_resumed=resumed_from_journal,
    )
    doc = report.to_json()
    doc["summary"]["resumed"] = (
        {"files": resumed.get("files", 0), "leads": resumed.get("leads", 0)} if resumed else None
    )
    if stream:
        if not streamed:  # no leads stage (--no-scenes, --no-leads): verdicts come last
            for it in report.items:
                _line({"stage": "verdict", **it.to_json()})
        _line({"stage": "done", **doc})
    elif as_json:
        click.echo(json.dumps(json_safe(doc), indent=1, default=str))
    else:
        print_summary(report)
        print_files(report)
    if html_path is not None:
        write_html(report, html_path)
        click.echo(f"report written to {for_terminal(str(html_path))}", err=True)
    ctx.exit(exit_status(report))


def _line(doc: dict[str, object]) -> None:
    """One JSON line on stdout, flushed (a reader sees it as it comes)."""
    click.echo(json.dumps(json_safe(doc), default=str))
    sys.stdout.flush()


def _remote(
    cli: CliContext,
    paths: tuple[Path, ...],
    as_json: bool,
    radius: int,
    min_quality: int,
    dihedral: bool,
    workers: int | None,
    show: bool,
) -> ExitCode:
    """Hash ``paths`` here, send only the fingerprints to the server's triage job."""
    options = HashOptions(dihedral=dihedral, limits=cli.settings.decode_limits)
    run = hashing.walk_and_hash(paths, options, workers=workers or cli.settings.worker_count)
    with progress_bar(run.total, "hashing", enabled=show) as advance:
        results = []
        for r in run.results:
            results.append(r.to_json())
            advance(1)
    with cli.remote() as remote, progress_bar(len(results), "triage", enabled=show) as advance:
        seen = 0

        def moved(done: int, _total: int) -> None:
            nonlocal seen
            advance(max(0, done - seen))
            seen = max(seen, done)

        doc = remote.triage(results, radius=radius, min_quality=min_quality, on_progress=moved)
    if as_json:
        click.echo(json.dumps(json_safe(doc), indent=1, default=str))
    else:
        s = doc["summary"]
        click.echo(
            f"{s['files']} files: {s['known']} known, {s['near']} near a known item, "
            f"{s['new']} new in {s['new_groups']} groups, {s['error']} errors, "
            f"{s['skipped']} skipped (server {remote.url})"
        )
        for h in doc["series"]:
            click.echo(
                f"  series {for_terminal(h['name'])!r} ({h['owner']['agency']}): "
                f"{h['files_matched']} files ({h['exact']} exact, {h['near']} near)"
            )
        for r in doc["results"]:
            click.echo(f"  {r['status']:7s} {for_terminal(r['path'])}")
    statuses = {r["status"] for r in doc["results"]}
    if statuses & {"known", "near"}:
        return ExitCode.KNOWN_FOUND
    return ExitCode.FILES_FAILED if "error" in statuses else ExitCode.OK


def exit_status(report: TriageReport) -> ExitCode:
    """10 when anything is known or near, else 1 when a file failed, else 0.

    A known hit wins over failures: it is the answer an investigator must never
    miss; the failures are still listed in the summary, ``--json`` and the report.
    """
    if report.anything_known:
        return ExitCode.KNOWN_FOUND
    if any(it.status == "error" for it in report.items):
        return ExitCode.FILES_FAILED
    return ExitCode.OK


def print_files(report: TriageReport) -> None:
    """One line per file: its status and what it matched, its group or why it failed."""
    for it in report.items:
        if it.matches:
            m = it.matches[0]
            how = m.detail.get("reason", "") if m.via == "local-features" else f"d={m.distance}"
            detail = f"media #{m.media_id} via {m.via} {how}; {', '.join(m.series) or 'no series'}"
        elif it.status in ("error", "skipped"):
            detail = f"{it.file.reason}: {it.file.message}"
        else:
            detail = f"new group {it.group}" if it.group is not None else ""
        click.echo(f"  {it.status:7s} {for_terminal(it.path)}  {for_terminal(detail)}")


def check_output_path(path: Path | None) -> None:
    """Refuse an output file that cannot be written, before any work is done."""
    if path is None:
        return
    parent = path.parent
    if path.is_dir():
        raise click.BadParameter(f"{path} is a folder", param_hint="--html")
    if not parent.is_dir():
        raise click.BadParameter(f"folder {parent} does not exist", param_hint="--html")
    if not os.access(parent, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise click.BadParameter(f"{path} cannot be written", param_hint="--html")
