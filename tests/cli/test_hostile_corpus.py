"""The light part of the hostile corpus (``scripts/hostile_corpus.py``) through the CLI.

``hash``, ``ingest`` (twice: the second run must find everything already known) and
``triage --json --html`` over ~220 damaged pictures, archive attacks, damaged
video/audio, hostile metadata, hostile names and special files: no internal error
(exit 70), no hang (every run has a timeout), and every file named in the output
with its result or the reason it has none. The heavy part (memory bombs) runs in
``benchmarks/bench_hostile.py``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tessera.pipeline.label import path_label
from tessera.safe_text import valid_unicode

TESSERA = str(Path(sys.executable).parent / "tessera")
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "hostile_corpus.py"
TIMEOUT = 600


def _load_generator() -> Any:
    spec = importlib.util.spec_from_file_location("hostile_corpus", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("hostile") / "corpus"
    manifest = _load_generator().generate(root, "light")
    return root, manifest


def _cli(*args: str) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if k not in ("TESSERA_HOME", "TESSERA_DATABASE_URL")}
    return subprocess.run([TESSERA, *args], capture_output=True, timeout=TIMEOUT, env=env)


def _strict(raw: bytes) -> Any:
    return json.loads(raw.decode("utf-8"))  # strict UTF-8: a lone surrogate fails here


def _expected(root: Path, manifest: dict[str, str], sub: str | None = None) -> set[str]:
    """Top-level files every output must name (the walk reports links, FIFOs too)."""
    return {
        os.fsdecode(os.fsencode(root / rel))
        for rel in manifest
        if sub is None or rel.startswith(sub)
    }


def _named(results: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for r in results:
        top = r["path"].split("!/", 1)[0]
        out.setdefault(top, r)
    return out


def _forms(path: str) -> set[str]:
    """The ways an output may name ``path``: the pipeline's lossless label, or the
    name with undecodable bytes as ``\\xNN`` (``tessera.safe_text``)."""
    return {valid_unicode(path), path_label(path)}


def _check_every_file_named(results: list[dict[str, Any]], expected: set[str]) -> None:
    named = _named(results)
    missing = sorted(valid_unicode(p) for p in expected if not _forms(p) & named.keys())
    assert missing == [], f"{len(missing)} files not in the output: {missing[:10]}"
    for path, r in named.items():
        status = r["status"]
        # an archive is a container (its members are named on their own lines; an
        # empty one has none): no verdict of its own to explain
        if status not in ("ok", "known", "near", "new", "archive"):
            err = r.get("error") or {}
            assert err.get("reason"), f"{path}: {status} without a reason"


def test_hash_names_every_file_with_a_result_or_reason(
    corpus: tuple[Path, dict[str, str]],
) -> None:
    root, manifest = corpus
    r = _cli("hash", "--json", "--no-progress", str(root))
    assert r.returncode in (0, 1), r.stderr[-2000:]
    doc = _strict(r.stdout)
    _check_every_file_named(doc["results"], _expected(root, manifest))
    assert doc["summary"]["files"] == len(doc["results"])


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("hostile-home") / "home"
    for step in (
        ("init",),
        ("agency", "create", "XX1", "--country", "NL", "--name", "Test unit"),
    ):
        r = _cli("--home", str(home), *step)
        assert r.returncode == 0, r.stderr
    return home


def _ingest(home: Path, path: Path, case: str) -> subprocess.CompletedProcess[bytes]:
    return _cli(
        "--home", str(home), "ingest", str(path), "--agency", "XX1", "--case", case,
        "--json", "--no-progress", "--no-features",
    )  # fmt: skip


@pytest.mark.parametrize("sub", ["images", "metadata", "video", "audio", "names", "special"])
def test_ingest_twice_without_internal_errors(
    corpus: tuple[Path, dict[str, str]], home: Path, sub: str
) -> None:
    root, _ = corpus
    first = _ingest(home, root / sub, f"C-{sub}")
    assert first.returncode in (0, 1), first.stderr[-2000:]
    again = _ingest(home, root / sub, f"C-{sub}")
    assert again.returncode in (0, 1), again.stderr[-2000:]
    summary = _strict(first.stdout)
    assert summary, "ingest --json printed nothing"


def test_ingest_archives_twice_without_internal_errors(
    corpus: tuple[Path, dict[str, str]], home: Path
) -> None:
    root, _ = corpus
    for _ in range(2):
        r = _ingest(home, root / "archives", "C-archives")
        assert r.returncode in (0, 1), r.stderr[-2000:]


def test_triage_json_and_html_name_every_file(
    corpus: tuple[Path, dict[str, str]], home: Path, tmp_path: Path
) -> None:
    root, manifest = corpus
    report = tmp_path / "report.html"
    r = _cli(
        "--home", str(home), "triage", str(root), "--json", "--html", str(report),
        "--no-progress",
    )  # fmt: skip
    assert r.returncode in (0, 1, 10), r.stderr[-2000:]
    doc = _strict(r.stdout)
    _check_every_file_named(doc["results"], _expected(root, manifest))
    html = report.read_bytes().decode("utf-8")
    assert html.rstrip().endswith("</html>")
    assert "\x1b" not in html
