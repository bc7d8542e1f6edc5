"""``tessera samples DIR``: write a small generated 'seizure' to try Tessera on."""

from __future__ import annotations

from pathlib import Path

import click

from tessera.demo.samples import write_samples


@click.command("samples")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--count", type=click.IntRange(1, 100), default=6, show_default=True)
def samples_command(folder: Path, count: int) -> None:
    """Write generated benign pictures, edited copies and damaged files into FOLDER."""
    paths = write_samples(folder, count=count)
    click.echo(f"wrote {len(paths)} files under {folder}", err=True)
