"""``--cluster``: hashing and features on Dask workers, answers unchanged.

A ``LocalCluster`` of 2 workers (threads in this process, talking over TCP, so every
result really crosses Dask's wire as msgpack) serves ``tessera ingest --cluster``
and ``tessera triage --cluster``: their JSON equals that of the same commands run
without the cluster. A second cluster of 2 worker *processes* checks that a worker
killed in the middle of a file has that file redone elsewhere, and that a file that
kills every worker it meets comes back ``worker-crashed`` while the others go on.
An ingest that fails midway on the cluster resumes without duplicates or gaps.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import warnings
import zipfile
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tessera.cli.main import main
from tessera.demo.samples import synthetic_picture
from tessera.errors import ConfigError
from tessera.matching.triage import run as triage_run
from tessera.pipeline import cluster as cluster_mod
from tessera.pipeline import expand as expand_module
from tessera.pipeline.cluster import map_on_cluster
from tessera.pipeline.expand import expand_path
from tessera.pipeline.options import ExpandOptions
from tessera.pipeline.run import run_found
from tessera.pipeline.walk import iter_files
from tessera.pipeline.wire import decode

distributed = pytest.importorskip("distributed")
dask = pytest.importorskip("dask")


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=False,
        protocol="tcp://",
        dashboard_address=None,
    ) as c:
        yield c.scheduler_address


def _pictures(folder: Path, seeds: range) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for seed in seeds:
        rgb = np.asarray(synthetic_picture(480, 360, seed).convert("RGB"), np.int16)
        noisy = rgb + np.random.default_rng(seed).normal(0, 3, rgb.shape).astype(np.int16)
        Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(
            folder / f"p{seed:02d}.jpg", quality=92
        )


def _tessera(home: Path, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, Any]:
    capsys.readouterr()
    try:
        main(["--home", str(home), *args])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr().out
    return code, json.loads(out) if "--json" in args and out.strip() else out


def _init(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for args in (("init",), ("agency", "create", "NL", "--name", "Politie", "--country", "NL")):
        code, _ = _tessera(home, *args, capsys=capsys)
        assert code == 0


def _stable(doc: Any) -> Any:
    """The JSON without what differs between any two runs (ids of runs, timings)."""
    if isinstance(doc, dict):
        return {
            k: _stable(v)
            for k, v in doc.items()
            if k not in {"run_id", "seconds", "elapsed", "started", "finished", "generated_at"}
        }
    if isinstance(doc, list):
        return [_stable(v) for v in doc]
    return doc


def test_ingest_and_triage_give_the_same_answers_on_a_cluster(
    tmp_path: Path, scheduler: str, capsys: pytest.CaptureFixture[str]
) -> None:
    seizure, query = tmp_path / "seizure", tmp_path / "query"
    _pictures(seizure, range(6))
    (seizure / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a picture")
    _pictures(query, range(4, 9))  # two known, three new
    Image.open(seizure / "p01.jpg").crop((40, 30, 480, 360)).save(query / "crop.png")
    answers = []
    for name, extra in (("local", ["--workers", "1"]), ("cluster", ["--cluster", scheduler])):
        home = tmp_path / name
        _init(home, capsys)
        code, ing = _tessera(
            home,
            "ingest", str(seizure), "--agency", "NL", "--case", "C1", "--json", *extra,
            capsys=capsys,
        )  # fmt: skip
        assert code == 1, ing  # the broken file
        code, tri = _tessera(home, "triage", str(query), "--json", *extra, capsys=capsys)
        assert code == 10, tri
        answers.append((_stable(ing), _stable(tri)))
    assert answers[0] == answers[1]
    ing, tri = answers[1]
    assert ing["new_media"] == 6 and ing["errors"] == 1
    verdicts = {Path(f["path"]).name: f["status"] for f in tri["results"]}
    assert verdicts["p04.jpg"] == verdicts["p05.jpg"] == "known"
    assert verdicts["crop.png"] == "near", [r for r in tri["results"] if "crop" in r["path"]]
    assert {verdicts[f"p0{i}.jpg"] for i in (6, 7, 8)} == {"new"}


def test_an_ingest_failing_on_the_cluster_resumes_without_duplicates(
    tmp_path: Path,
    scheduler: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seizure, home = tmp_path / "seizure", tmp_path / "home"
    _pictures(seizure, range(10, 20))
    _init(home, capsys)
    real = cluster_mod.expand_remote

    def failing(path: str, options: Any) -> bytes:
        if path.endswith("p16.jpg"):
            raise RuntimeError("worker lost its mount")
        return real(path, options)

    monkeypatch.setattr(cluster_mod, "expand_remote", failing)
    args = ("ingest", str(seizure), "--agency", "NL", "--case", "C2", "--batch-size", "2")
    code, _ = _tessera(home, *args, "--cluster", scheduler, capsys=capsys)
    assert code != 0
    monkeypatch.setattr(cluster_mod, "expand_remote", real)
    code, again = _tessera(home, *args, "--cluster", scheduler, "--json", capsys=capsys)
    assert code == 0, again
    assert again["resumed"] is True
    assert again["already_done_in_earlier_attempt"] >= 2
    done_before = again["already_done_in_earlier_attempt"]
    assert again["processed_in_this_attempt"] == 10 - done_before
    assert again["new_media"] == 10 and again["errors"] == 0  # the run's totals
    code, listing = _tessera(home, "media", "list", "--case", "C2", "--json", capsys=capsys)
    assert code == 0, listing
    items = listing["items"]
    assert len(items) == 10 and len({m["sha256"] for m in items}) == 10


def test_an_interrupted_triage_on_the_cluster_resumes(
    tmp_path: Path,
    scheduler: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Killed midway (here: the cluster fails on a file), the same triage re-run goes
    on from its journal: the decided files are not sent to the workers again, and
    the answers are those of an uninterrupted run without the cluster."""
    seizure, home = tmp_path / "seizure", tmp_path / "home"
    _pictures(seizure, range(20, 30))
    _init(home, capsys)
    code, whole = _tessera(home, "triage", str(seizure), "--json", "--workers", "1", capsys=capsys)
    assert code == 0, whole
    monkeypatch.setattr(triage_run, "VERDICT_CHUNK", 2)
    real = cluster_mod.expand_remote
    sent = tmp_path / "sent"  # a file: the functions reach the workers as copies

    def failing(path: str, options: Any) -> bytes:
        if path.endswith("p26.jpg"):
            raise RuntimeError("worker lost its mount")
        return real(path, options)

    monkeypatch.setattr(cluster_mod, "expand_remote", failing)
    code, _ = _tessera(
        home, "triage", str(seizure), "--json", "--cluster", scheduler, capsys=capsys
    )
    assert code != 0

    def counted(path: str, options: Any) -> bytes:
        with open(sent, "a") as f:
            f.write(Path(path).name + "\n")
        return real(path, options)

    monkeypatch.setattr(cluster_mod, "expand_remote", counted)
    code, again = _tessera(
        home, "triage", str(seizure), "--json", "--cluster", scheduler, capsys=capsys
    )
    assert code == 0, again
    assert again["summary"].pop("resumed") == {"files": 6, "leads": 0}  # three chunks of two
    # which files reached the workers, not how often: Dask runs a task at least once,
    # and a task of the failed run still running when this one starts (these workers
    # are threads of this process) calls the counting function too
    assert sorted(set(sent.read_text().split())) == [f"p{i}.jpg" for i in range(26, 30)]
    whole["summary"].pop("resumed")
    assert _stable(again) == _stable(whole)


def test_a_killed_worker_has_its_file_redone(tmp_path: Path) -> None:
    flag = tmp_path / "killed-once"

    def dies_once_on_three(x: int) -> bytes:
        if x == 3 and not flag.exists():
            flag.write_text("x")
            os._exit(1)  # the worker process dies mid-file
        return str(x * x).encode()

    def always_dies(x: int) -> bytes:
        os._exit(1)  # every worker that takes this file dies

    # Two maps: a worker killed by the always-dying file also counts against the
    # files queued on it, which could fail the once-dying file by collateral.
    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 1}),
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as c,
    ):
        out = list(
            map_on_cluster(
                dies_once_on_three, range(8), address=c.scheduler_address, on_crash=lambda x: b"X"
            )
        )
        crashed = list(
            map_on_cluster(always_dies, [5], address=c.scheduler_address, on_crash=lambda x: b"X")
        )
        # The nannies are still restarting the dead workers; closing the cluster while a
        # worker process has not started yet fails inside Dask ("can only join a started
        # process"), so wait for both to be back first.
        with distributed.Client(c.scheduler_address) as client:
            client.wait_for_workers(2, timeout=120)
    assert flag.exists()
    assert out == [b"0", b"1", b"4", b"9", b"16", b"25", b"36", b"49"]
    assert crashed == [b"X"]


def test_an_unreachable_scheduler_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cluster_mod, "CONNECT_TIMEOUT", "1s")
    with pytest.raises(ConfigError, match="cannot reach the Dask scheduler"):
        list(map_on_cluster(str.encode, ["a"], address="tcp://127.0.0.1:9", on_crash=str.encode))


def _png(seed: int) -> bytes:
    rgb = np.asarray(synthetic_picture(96, 72, seed).convert("RGB"))
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG")
    return buf.getvalue()


def test_a_large_archive_is_spread_over_the_cluster_as_one_process_reads_it(
    tmp_path: Path, scheduler: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A zip and a plain tar read from disk (over ``ARCHIVE_IN_MEMORY``, lowered here)
    go out in tasks of ``MEMBERS_PER_TASK`` first-level members (2 here) and come back
    in pieces that together are exactly what one process gives: a name twice, a
    refused name, a zip inside, a file that is no picture, a tar cut short (its
    damage on the archive's own result). A tar.gz stays one task."""
    monkeypatch.setattr(expand_module, "ARCHIVE_IN_MEMORY", 1_000)
    monkeypatch.setattr(cluster_mod, "MEMBERS_PER_TASK", 2)
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as z:
        z.writestr("deep.png", _png(9))
        z.writestr("notes.txt", b"not media")
    members = [
        ("a.png", _png(1)),
        ("a.png", _png(2)),
        ("../up.png", _png(3)),
        ("in/inner.zip", inner.getvalue()),
        ("b.png", _png(4)),
        ("c.txt", b"plain text " * 50),
        ("d.png", _png(5)),
    ]
    folder = tmp_path / "seizure"
    folder.mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile: the duplicate name
        with zipfile.ZipFile(folder / "a.zip", "w", zipfile.ZIP_STORED) as z:
            for name, data in members:
                z.writestr(name, data)
    for name, mode in (("b.tar", "w"), ("c.tar.gz", "w:gz")):
        with tarfile.open(folder / name, mode) as t:  # type: ignore[call-overload]
            for member, data in members:
                info = tarfile.TarInfo(member)
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
    whole = (folder / "b.tar").read_bytes()
    (folder / "d-cut.tar").write_bytes(whole[: whole.index(_png(4)) + 100])  # inside b.png
    options = ExpandOptions()
    groups = list(run_found(iter_files([folder]), options, workers=1, cluster=scheduler))
    by_path: dict[str, list[Any]] = {}
    for g in groups:
        by_path.setdefault(g.label, []).append(g)
    assert sorted(Path(p).name for p in by_path) == ["a.zip", "b.tar", "c.tar.gz", "d-cut.tar"]
    for label, pieces in by_path.items():
        one = expand_path(Path(label), options)
        assert [r for g in pieces for r in g.results] == one, label
        assert [g.complete for g in pieces] == [False] * (len(pieces) - 1) + [True]
        if label.endswith(".tar.gz"):
            assert len(pieces) == 1
        elif not label.endswith("cut.tar"):  # 7 members in tasks of 2, then its own
            assert len(pieces) == 5, label
    cut = {r.path: r for r in expand_path(folder / "d-cut.tar", options)}
    assert cut[str(folder / "d-cut.tar")].status == "error"
    assert cut[str(folder / "d-cut.tar!/b.png")].reason == "truncated"
    assert len(by_path[str(folder / "d-cut.tar")]) == 4  # 5 members in 3 tasks, its own


def test_a_task_of_members_that_kills_its_workers_is_tried_member_by_member(
    tmp_path: Path, scheduler: str
) -> None:
    """After ``KilledWorker``, a task of several members is run again one member at a
    time (only the member that kills workers again is lost); one member alone is
    ``worker-crashed``."""
    path = tmp_path / "a.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("a.png", _png(1))
        z.writestr("b.txt", b"text")
    labels = (f"{path}!/a.png", f"{path}!/b.txt")
    options = ExpandOptions()
    work = partial(cluster_mod.run_task, options=options)
    client = cluster_mod.connect(scheduler)
    try:
        again = cluster_mod._crashed_task(
            cluster_mod.MembersTask(str(path), labels), client=client, work=work, on_crash=list
        )
        alone = cluster_mod._crashed_task(
            cluster_mod.MembersTask(str(path), labels[:1]), client=client, work=work, on_crash=list
        )
    finally:
        client.close()
    one = [r for r in expand_path(path, options) if r.path in labels]
    assert decode(again) == one
    [crashed] = decode(alone)
    assert (crashed.path, crashed.status, crashed.reason) == (labels[0], "error", "worker-crashed")
