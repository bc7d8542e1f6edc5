"""``tessera.pipeline.fanout``: a large archive's members fingerprinted by every worker,
with the results one worker gives (the archive read once, in its own process)."""

from __future__ import annotations

import multiprocessing
import os
import zipfile
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from tessera.pipeline import expand as expand_module
from tessera.pipeline import fanout
from tessera.pipeline.fanout import (
    Done,
    Job,
    MemberJob,
    PathJob,
    Ready,
    SmallMembers,
    SmallPaths,
    crashed_job,
    is_ready,
    jobs,
    regroup,
    run_job,
)
from tessera.pipeline.options import ExpandOptions
from tessera.pipeline.pool import map_ordered
from tessera.pipeline.run import run_found, run_paths
from tessera.pipeline.walk import iter_files
from tests.pipeline.test_archives import gradient_png, make_tar, make_zip

OPTIONS = ExpandOptions()


def _seizure(root: Path) -> dict[str, int]:
    """A folder with loose pictures, a zip (a zip inside, a name twice, a member
    refused, one not a picture) and a tar.gz; how many members each archive reads."""
    root.mkdir()
    (root / "a.png").write_bytes(gradient_png(70, 50))
    inner = make_zip([("deep-1.png", gradient_png(90, 60)), ("deep-2.png", gradient_png(60, 90))])
    pictures = [(f"p/{k:02d}.png", gradient_png(64 + 4 * k, 48)) for k in range(12)]
    with pytest.warns(UserWarning, match="Duplicate name"):
        seized = make_zip(
            [
                *pictures,
                ("in/inner.zip", inner),
                ("p/00.png", gradient_png(40, 40)),
                ("../escape.png", gradient_png(30, 30)),
                ("notes.txt", b"not a picture"),
                ("crash-me.png", gradient_png(50, 50)),
            ]
        )
    (root / "b.zip").write_bytes(seized)
    (root / "c.tar.gz").write_bytes(make_tar(pictures[:5], "w:gz"))
    (root / "d.png").write_bytes(gradient_png(80, 40))
    return {"b.zip": 12 + 2 + 1 + 1 + 1, "c.tar.gz": 5}  # read: pictures, deep, #2, txt, crash


@pytest.fixture
def on_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``_seizure`` with every archive read from disk (so fanned out on 2 workers)."""
    root = tmp_path / "seizure"
    _seizure(root)
    monkeypatch.setattr(expand_module, "ARCHIVE_IN_MEMORY", 0)
    return root


def _shipped(planned: list[Job]) -> dict[str, bytes]:
    """The members whose bytes the jobs send to the pool, in order."""
    sent: dict[str, bytes] = {}
    for j in planned:
        if isinstance(j, MemberJob):
            sent[j.label] = j.data
        elif isinstance(j, SmallMembers):
            sent.update(j.members)
    return sent


def _members(planned: list[Job]) -> list[str]:
    return list(_shipped(planned))


def test_the_members_are_jobs_of_their_own_with_one_worker_s_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "seizure"
    reads = _seizure(root)
    one_worker = list(run_paths([root], OPTIONS, workers=1))
    monkeypatch.setattr(expand_module, "ARCHIVE_IN_MEMORY", 0)  # every archive from disk
    paths = sorted(p for p in root.iterdir())
    planned = list(jobs(paths, OPTIONS, fan_out=True))
    assert [type(j) for j in planned[:1]] == [PathJob]
    zipped = [m for m in _members(planned) if "b.zip!/" in m]
    tarred = [m for m in _members(planned) if "c.tar.gz!/" in m]
    assert (len(zipped), len(tarred)) == (reads["b.zip"], reads["c.tar.gz"])
    assert f"{root}/b.zip!/in/inner.zip!/deep-2.png" in _members(planned)
    assert f"{root}/b.zip!/p/00.png#2" in _members(planned)
    lasts = [j for j in planned if j.last]
    assert len(lasts) == 4  # one per top-level path: its last job
    spread = list(run_paths([root], OPTIONS, workers=2))
    assert spread == one_worker
    refused = next(r for r in spread if r.path.endswith("escape.png"))
    assert refused.reason == "path-traversal"


def crashy_job(job: Job) -> Done:
    """Worker function for the crash test: dies hard on a member named "crash"."""
    if isinstance(job, MemberJob) and "crash" in job.label:
        os._exit(1)  # what a native decoder crash looks like
    if isinstance(job, SmallMembers) and any("crash" in label for label, _ in job.members):
        os._exit(1)
    if isinstance(job, SmallPaths | PathJob) and "crash" in str(job):
        os._exit(1)
    return run_job(job, OPTIONS)


def _crashy_run(planned: list[Job]) -> Iterator[Done]:
    """``planned`` on 2 workers with ``crashy_job``, crashes retried as ``run_found`` does."""
    again = partial(crashed_job, again=crashy_job)
    return map_ordered(crashy_job, planned, workers=2, on_crash=again, window=4, here=is_ready)


def test_a_member_that_kills_its_worker_costs_only_itself(on_disk: Path) -> None:
    """One worker's crash used to cost the whole archive (``worker-crashed`` for its
    one path); now the member alone, the archive and its other members stay, also
    when it went to the pool with other small members (they are run again alone)."""
    root = on_disk
    planned = list(jobs(sorted(root.iterdir()), OPTIONS, fan_out=True))
    (batch,) = [j for j in planned if isinstance(j, SmallMembers) and "crash" in str(j.members)]
    assert len(batch.members) > 1
    done = _crashy_run(planned)
    groups = [results for results, complete in regroup(done) if complete]
    assert len(groups) == 4
    by_path = {r.path: r for g in groups for r in g}
    crashed = [p for p, r in by_path.items() if r.reason == "worker-crashed"]
    assert crashed == [f"{root}/b.zip!/crash-me.png"]
    assert by_path[f"{root}/b.zip"].status == "ok"
    assert by_path[f"{root}/b.zip!/p/11.png"].status == "ok"
    others = [label for label, _ in batch.members if "crash" not in label]
    assert others and all(by_path[label].reason != "worker-crashed" for label in others)


def _small_files(root: Path) -> list[Path]:
    """A folder like an extracted phone dump: small files, a picture among them, one
    file whose decoder kills its worker (``crashy_job``), and one over ``SMALL_MEMBER``."""
    root.mkdir()
    for k in range(40):
        (root / f"f{k:02d}.txt").write_bytes(b"x" * (k + 1))
    (root / "f20-a.png").write_bytes(gradient_png(70, 50))
    (root / "f30-crash-me.png").write_bytes(gradient_png(50, 50))
    (root / "zz-big.bin").write_bytes(os.urandom(fanout.SMALL_MEMBER + 1))
    return sorted(root.iterdir())


def test_small_files_go_to_the_pool_together_with_one_worker_s_results(tmp_path: Path) -> None:
    """Small top-level files travel a few to a job (``SmallPaths``), in order, each
    with its own complete group of results; the results are one worker's."""
    paths = _small_files(tmp_path / "dump")
    planned = list(jobs(paths, OPTIONS, fan_out=True))
    batches = [j for j in planned if isinstance(j, SmallPaths)]
    assert len(batches) >= 2 and all(len(b.paths) <= fanout.SMALL_JOB_MEMBERS for b in batches)
    order: list[Path] = []
    for j in planned:
        order.extend(j.paths if isinstance(j, SmallPaths) else [j.path])  # type: ignore[union-attr]
    assert order == paths  # in order, each once
    assert isinstance(planned[-1], PathJob) and planned[-1].path == paths[-1]
    assert all(isinstance(j, PathJob) for j in jobs(paths, OPTIONS, fan_out=False))
    one_worker = list(run_paths(paths, OPTIONS, workers=1))
    assert list(run_paths(paths, OPTIONS, workers=2)) == one_worker
    groups = list(run_found(list(iter_files(paths)), OPTIONS, workers=2))
    assert [g.label for g in groups] == [str(p) for p in paths] and all(g.complete for g in groups)


def test_a_small_file_that_kills_its_worker_costs_only_itself(tmp_path: Path) -> None:
    paths = _small_files(tmp_path / "dump")
    planned = list(jobs(paths, OPTIONS, fan_out=True))
    (batch,) = [j for j in planned if isinstance(j, SmallPaths) and "crash" in str(j)]
    assert len(batch.paths) > 1
    done = _crashy_run(planned)
    by_path = {r.path: r for results, complete in regroup(done) if complete for r in results}
    assert [p for p, r in by_path.items() if r.reason == "worker-crashed"] == [
        str(paths[0].parent / "f30-crash-me.png")
    ]
    assert len(by_path) == len(paths) and by_path[str(paths[0].parent / "f20-a.png")].pdq


def test_small_members_go_to_the_pool_together_within_bounds(
    on_disk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Small members travel in jobs of a few (a job's round trip would be most of
    their cost), at most ``SMALL_JOB_MEMBERS``, in order; a member over
    ``SMALL_MEMBER`` goes alone; the results are one worker's."""
    monkeypatch.setattr(fanout, "SMALL_JOB_MEMBERS", 3)
    monkeypatch.setattr(fanout, "SMALL_MEMBER", 200)
    planned = list(jobs([on_disk / "b.zip"], OPTIONS, fan_out=True))
    batches = [j for j in planned if isinstance(j, SmallMembers)]
    assert batches and all(2 <= len(j.members) <= 3 for j in batches)
    assert all(len(data) <= 200 for j in batches for _, data in j.members)
    alone = [j for j in planned if isinstance(j, MemberJob)]
    assert any(len(j.data) > 200 for j in alone)
    assert (
        _members(planned)
        == [r.path for r in expand_module.expand_path(on_disk / "b.zip", OPTIONS) if r.sha256][
            : len(_members(planned))
        ]
    )
    done = [run_job(j, OPTIONS) for j in planned]
    (whole,) = [results for results, complete in regroup(done) if complete]
    assert whole == list(run_paths([on_disk / "b.zip"], OPTIONS, workers=1))


def _reader_alive() -> bool:
    return any(p.is_alive() for p in multiprocessing.active_children())


def test_a_reader_that_dies_keeps_what_it_sent_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Members of 300 kB: the pipe holds about one, so the reader is still reading
    when it is killed."""
    archive = tmp_path / "a.zip"
    archive.write_bytes(make_zip([(f"m{k}.bin", os.urandom(300_000)) for k in range(20)]))
    monkeypatch.setattr(expand_module, "ARCHIVE_IN_MEMORY", 0)
    planned = jobs([archive], OPTIONS, fan_out=True)
    first = next(planned)
    assert isinstance(first, MemberJob) and _reader_alive()
    for child in multiprocessing.active_children():
        child.kill()
    rest = list(planned)
    last = rest[-1]
    assert isinstance(last, Ready) and last.last
    (lost,) = last.results
    assert (lost.path, lost.reason) == (str(archive), "worker-crashed")
    sent = _members([first, *rest])
    assert sent == [f"{archive}!/m{k}.bin" for k in range(len(sent))] and len(sent) < 20
    assert not _reader_alive()


def test_a_run_stopped_mid_archive_leaves_no_reader(on_disk: Path) -> None:
    root = on_disk
    planned = jobs([root / "b.zip"], OPTIONS, fan_out=True)
    assert isinstance(next(planned), (MemberJob, SmallMembers)) and _reader_alive()
    planned.close()
    assert not _reader_alive()


def test_small_archives_and_one_worker_are_not_fanned_out(tmp_path: Path) -> None:
    root = tmp_path / "seizure"
    _seizure(root)
    paths = sorted(root.iterdir())
    assert all(isinstance(j, PathJob | SmallPaths) for j in jobs(paths, OPTIONS, fan_out=True))
    big = root / "big.zip"
    with zipfile.ZipFile(big, "w", zipfile.ZIP_STORED) as z:
        z.writestr("noise.bin", os.urandom(expand_module.ARCHIVE_IN_MEMORY + 1))
        z.writestr("x.png", gradient_png(40, 40))
    assert all(isinstance(j, PathJob) for j in jobs([big], OPTIONS, fan_out=False))
    planned = list(jobs([big], OPTIONS, fan_out=True))
    assert [type(j) for j in planned] == [Ready, MemberJob, Ready]  # noise: over MEMBER_BYTES
    assert isinstance(planned[-1], Ready) and planned[-1].results[0].sha256 is not None


def test_a_large_archive_comes_in_pieces_never_inside_a_nested_archive(
    on_disk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pieces of about ``piece`` results, as members are done (not all at the end):
    together the whole path's results; a nested archive's members in one piece (its
    damage may report its path twice, merged within a piece)."""
    root = on_disk
    monkeypatch.setattr(fanout, "SMALL_JOB_MEMBERS", 2)  # jobs of 2 members: more cuts
    paths = sorted(root.iterdir())
    whole = list(regroup(run_job(j, OPTIONS) for j in jobs(paths, OPTIONS, fan_out=True)))
    assert all(complete for _, complete in whole) and len(whole) == 4
    pieces = list(
        regroup((run_job(j, OPTIONS) for j in jobs(paths, OPTIONS, fan_out=True)), piece=4)
    )
    b_zip = f"{root}/b.zip"
    of_zip = [
        (results, complete) for results, complete in pieces if results[0].path.startswith(b_zip)
    ]
    assert len(of_zip) >= 4 and [c for _, c in of_zip] == [False] * (len(of_zip) - 1) + [True]
    assert [r for results, _ in of_zip for r in results] == whole[1][0]
    for results, _ in of_zip:  # the inner zip's two members are never cut apart
        inner = [r.path for r in results if "inner.zip!/" in r.path]
        assert len(inner) in (0, 2), [r.path for r in results]


def test_run_found_hands_on_pieces_and_marks_the_last(
    on_disk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = on_disk
    monkeypatch.setattr(fanout, "PIECE", 4)
    monkeypatch.setattr(fanout, "SMALL_JOB_MEMBERS", 2)
    groups = list(run_found(list(iter_files([root])), OPTIONS, workers=2))
    labels = [g.label for g in groups if g.complete]
    assert labels == [str(p) for p in sorted(root.iterdir())]
    assert len([g for g in groups if g.label.endswith("b.zip")]) >= 4
    assert [r for g in groups for r in g.results] == list(run_paths([root], OPTIONS, workers=1))


def test_a_large_member_is_fingerprinted_by_the_reader(
    on_disk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Members over ``MEMBER_BYTES`` come back as results, not bytes to ship (the
    pool's jobs in flight would each hold one), with the results one worker gives."""
    monkeypatch.setattr(fanout, "MEMBER_BYTES", 180)  # the zip's pictures: 141-209 bytes
    planned = list(jobs([on_disk / "b.zip"], OPTIONS, fan_out=True))
    shipped = _shipped(planned)
    assert shipped and all(len(data) <= 180 for data in shipped.values())
    ready = [r for j in planned if isinstance(j, Ready) for r in j.results]
    large = [r for r in ready if r.path.endswith(("/p/11.png", "deep-1.png")) and r.width]
    assert len(large) == 2  # fingerprinted by the reader
    done = [run_job(j, OPTIONS) for j in planned]
    (whole,) = [results for results, complete in regroup(done) if complete]
    assert whole == list(run_paths([on_disk / "b.zip"], OPTIONS, workers=1))
