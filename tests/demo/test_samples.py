"""``tessera samples``: any count the command accepts writes a complete sample set."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from tessera.cli.main import cli


@pytest.mark.parametrize("count", [1, 2, 3])
def test_small_counts_write_every_file(tmp_path: Path, count: int) -> None:
    out = tmp_path / "s"
    result = CliRunner().invoke(cli, ["samples", str(out), "--count", str(count)])
    assert result.exit_code == 0, result.output
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert [f for f in files if f.startswith("camera/IMG_") and "copy" not in f] == [
        f"camera/IMG_{i:04d}.jpg" for i in range(count)
    ]
    for damaged in ("truncated.jpg", "empty.jpg", "notes.jpg", "renamed.txt"):
        assert f"damaged/{damaged}" in files
    truncated = (out / "damaged/truncated.jpg").read_bytes()
    last = (out / f"camera/IMG_{count - 1:04d}.jpg").read_bytes()
    assert last.startswith(truncated) and len(truncated) < len(last)
