"""``tessera hash PATH...``: exact digests and PDQ for files and folders."""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import IO, Any

import click

from tessera.app import hashing
from tessera.cli.context import CliContext
from tessera.cli.exit_codes import ExitCode
from tessera.cli.progress import progress_bar
from tessera.media.decode import DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS, DecodeLimits
from tessera.media.normalize import Policy
from tessera.pipeline.options import HashOptions, Mode
from tessera.pipeline.result import FileResult
from tessera.safe_text import for_terminal, json_safe


class Summary:
    """Counts for the closing line and the ``summary`` object of ``--json``."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.status: Counter[str] = Counter()
        self.reasons: Counter[str] = Counter()
        self.flags: Counter[str] = Counter()

    def add(self, r: FileResult) -> None:
        self.status[r.status] += 1
        if r.status == "error" and r.reason:
            self.reasons[r.reason] += 1
        self.flags.update(r.flags)

    @property
    def total(self) -> int:
        return sum(self.status.values())

    def as_json(self) -> dict[str, Any]:
        elapsed = time.monotonic() - self.started
        return {
            "files": self.total,
            "ok": self.status["ok"],
            "errors": self.status["error"],
            "skipped": self.status["skipped"],
            "errors_by_reason": dict(sorted(self.reasons.items())),
            "flags": dict(sorted(self.flags.items())),
            "seconds": round(elapsed, 3),
            "files_per_second": round(self.total / elapsed, 2) if elapsed > 0 else None,
        }

    def line(self) -> str:
        j = self.as_json()
        text = f"{j['files']} files: {j['ok']} hashed, {j['errors']} failed, {j['skipped']} skipped"
        if self.reasons:
            text += " (" + ", ".join(f"{k}: {v}" for k, v in sorted(self.reasons.items())) + ")"
        rate = j["files_per_second"]
        return text + f" in {j['seconds']:.1f} s" + (f", {rate:.1f} files/s" if rate else "")


_DASH = "-"


def _table_row(r: FileResult) -> str:
    def cell(v: object | None, width: int) -> str:
        return (str(v) if v is not None else _DASH).ljust(width)

    status = r.status if r.status == "ok" else (r.reason or r.status)
    row = "  ".join(
        [
            cell(status, 18),
            cell(r.quality, 3),
            cell(r.pdq, 64),
            cell(r.md5, 32),
            cell(r.sha1, 40),
            cell(r.sha256, 64),
            for_terminal(r.path),
        ]
    )
    notes = list(r.flags)
    if r.status != "ok" and r.message:
        notes.append(r.message)
    return row + (f"  ({'; '.join(notes)})" if notes else "")


_HEADER = "  ".join(
    [
        "STATUS".ljust(18),
        "Q".ljust(3),
        "PDQ".ljust(64),
        "MD5".ljust(32),
        "SHA1".ljust(40),
        "SHA256".ljust(64),
        "PATH",
    ]
)


class _JsonStream:
    """Writes ``{"results": [...], "summary": {...}}`` incrementally."""

    def __init__(self, out: IO[str]) -> None:
        self.out, self.first = out, True
        out.write('{"results": [')

    def add(self, r: FileResult) -> None:
        self.out.write(("\n  " if self.first else ",\n  ") + json.dumps(json_safe(r.to_json())))
        self.first = False

    def close(self, summary: dict[str, Any]) -> None:
        self.out.write('\n],\n"summary": ' + json.dumps(summary) + "}\n")


@click.command("hash")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Write one JSON document to stdout.")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Processes to hash with (default: all cores).",
)
@click.option(
    "--mode",
    type=click.Choice(["fast", "reference"]),
    default="fast",
    show_default=True,
    help="fast: scaled JPEG decode within a measured bound of the reference; "
    "reference: full decode, bit-exact PDQ.",
)
@click.option(
    "--policy",
    type=click.Choice(["tessera", "pytx"]),
    default="tessera",
    show_default=True,
    help="Pixel normalisation: tessera (EXIF orientation, true colours) or pytx "
    "(python-threatexchange's pipeline, quirks included).",
)
@click.option(
    "--cpp-resize",
    is_flag=True,
    help="Pre-resize to 512x512 nearest-neighbour like the C++ pdq-photo-hasher.",
)
@click.option("--dihedral", is_flag=True, help="Also output the 8 dihedral PDQ variants.")
@click.option(
    "--max-pixels",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_PIXELS,
    show_default=True,
    help="Refuse images with more pixels (decompression bombs).",
)
@click.option(
    "--max-bytes",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_BYTES,
    show_default=True,
    help="Refuse files larger than this.",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Progress bar on stderr (default: on when stderr is a terminal).",
)
@click.pass_context
def hash_command(
    ctx: click.Context,
    paths: tuple[Path, ...],
    as_json: bool,
    workers: int | None,
    mode: Mode,
    policy: Policy,
    cpp_resize: bool,
    dihedral: bool,
    max_pixels: int,
    max_bytes: int,
    progress: bool | None,
) -> None:
    """Fingerprint files and folders (recursively): MD5, SHA-1, SHA-256, PDQ, quality.

    One bad file never stops the run; it is reported with its reason. Exit status:
    0 all files hashed, 1 at least one file failed.
    """
    options = HashOptions(
        mode=mode,
        policy=policy,
        limits=DecodeLimits(max_pixels=max_pixels, max_bytes=max_bytes),
        dihedral=dihedral,
        cpp_resize=cpp_resize,
    )
    cli = ctx.find_object(CliContext) or ctx.ensure_object(CliContext)
    run = hashing.hash_paths(cli.app, cli.caller, paths, options, workers=workers)
    summary = Summary()
    out = sys.stdout
    stream = _JsonStream(out) if as_json else None
    if stream is None:
        out.write(_HEADER + "\n")
    show = progress if progress is not None else (sys.stderr.isatty() and run.total > 1)
    with progress_bar(run.total, "hashing", enabled=show) as advance:
        try:
            for r in run.results:
                summary.add(r)
                if stream is not None:
                    stream.add(r)
                else:
                    out.write(_table_row(r) + "\n")
                advance(1)
        except BaseException as exc:
            if stream is not None:  # the document stays whole JSON, saying it stopped
                stream.close({**summary.as_json(), "aborted": f"{type(exc).__name__}: {exc}"})
            raise
    if stream is not None:
        stream.close(summary.as_json())
    else:
        click.echo(summary.line(), err=True)
    out.flush()
    ctx.exit(ExitCode.FILES_FAILED if summary.status["error"] else ExitCode.OK)
