"""The triage journal (``tessera.matching.triage.journal``): what is written reads back
the same, a record cut short by a kill is ignored and cut off, a changed file's
results and leads are not taken, and one process at a time holds a journal."""

from __future__ import annotations

from pathlib import Path

import msgpack
import pytest

from tessera.fingerprints.vpdq import FrameHash
from tessera.matching.av_match import AvHit
from tessera.matching.pdq_store import PdqHit
from tessera.matching.scene_triage import Related
from tessera.matching.triage.decided import Decided
from tessera.matching.triage.journal import FILE, Journal, Top
from tessera.pipeline.result import FileResult

KEY = "k" * 32


def _decided(name: str, media: int = 7) -> Decided:
    f = FileResult(
        f"/s/{name}",
        "ok",
        size=10,
        sha256="ab" * 32,
        pdq="cd" * 32,
        quality=90,
        flags=("trimmed",),
        dihedral={"rot90": "ef" * 32},
        frames=(FrameHash(1, 80, b"\x01" * 32, 0.5),),
    )
    return Decided(
        f,
        exact=(media, "sha256"),
        near={media: (12, "pdq-flipx")},
        pdq_hits=(PdqHit(0, 3, media, 12, 88, 1500),),
        av=(AvHit(media, "pdq-frame", 4, {"compared_times": [0.5, 1.0]}),),
        related=(Related(media, "copy", {"via": "local-features", "inliers": 40}),),
    )


def _top(name: str, stat: tuple[int, int] | None = (10, 123), files: int = 1) -> Top:
    return Top(f"/s/{name}", stat, files)


def test_what_is_written_reads_back(tmp_path: Path) -> None:
    j = Journal.open(tmp_path, KEY)
    a, b = _decided("a.jpg"), _decided("b.zip!/m.jpg", 8)
    j.add_verdicts([(_top("a.jpg"), a), (_top("b.zip", files=1), b)])
    j.add_leads("/s/a.jpg", [Related(9, "scene", {"score": 0.25, "box": [1, 2, 3, 4]})])
    j.close()
    again = Journal.open(tmp_path, KEY)
    assert again.decided("/s/a.jpg", (10, 123)) == [a]
    assert again.decided("/s/b.zip", (10, 123)) == [b]
    assert again.leads("/s/a.jpg") == [Related(9, "scene", {"score": 0.25, "box": [1, 2, 3, 4]})]
    assert again.leads("/s/b.zip!/m.jpg") is None  # never searched


def test_a_torn_last_record_is_ignored_and_cut_off(tmp_path: Path) -> None:
    j = Journal.open(tmp_path, KEY)
    j.add_verdicts([(_top("a.jpg"), _decided("a.jpg"))])
    j.close()
    path = tmp_path / FILE
    good = path.stat().st_size
    j = Journal.open(tmp_path, KEY)
    j.add_verdicts([(_top("b.jpg"), _decided("b.jpg"))])
    j.close()
    whole = path.read_bytes()
    # killed mid-write: the second verdict record only half there
    path.write_bytes(whole[: good + (len(whole) - good) // 2])
    j = Journal.open(tmp_path, KEY)
    assert j.decided("/s/a.jpg", (10, 123)) is not None
    assert j.decided("/s/b.jpg", (10, 123)) is None
    j.add_verdicts([(_top("c.jpg"), _decided("c.jpg"))])  # appends after the cut
    j.close()
    j = Journal.open(tmp_path, KEY)
    assert j.decided("/s/c.jpg", (10, 123)) is not None


def test_an_unreadable_record_ends_what_is_taken(tmp_path: Path) -> None:
    j = Journal.open(tmp_path, KEY)
    j.add_verdicts([(_top("a.jpg"), _decided("a.jpg"))])
    j.close()
    with open(tmp_path / FILE, "ab") as f:  # a well-formed map of the wrong shape
        f.write(msgpack.packb({"t": "verdicts", "files": "not bytes", "tops": [], "found": []}))
    j = Journal.open(tmp_path, KEY)
    assert j.decided("/s/a.jpg", (10, 123)) is not None
    j.close()
    with open(tmp_path / FILE, "rb") as f:  # cut off: a head, two attempts, one record
        assert len(list(msgpack.Unpacker(f, raw=False))) == 4


def test_a_changed_file_is_not_taken_nor_its_leads(tmp_path: Path) -> None:
    j = Journal.open(tmp_path, KEY)
    j.add_verdicts([(_top("a.jpg", (10, 123)), _decided("a.jpg"))])
    j.add_leads("/s/a.jpg", [])
    j.close()
    j = Journal.open(tmp_path, KEY)
    assert j.decided("/s/a.jpg", (10, 999)) is None
    assert j.leads("/s/a.jpg") is None
    # done again in this attempt: the earlier attempt's leads are not its leads
    j.add_verdicts([(_top("a.jpg", (10, 999)), _decided("a.jpg", 8))])
    j.close()
    j = Journal.open(tmp_path, KEY)
    taken = j.decided("/s/a.jpg", (10, 999))
    assert taken is not None and taken[0].exact == (8, "sha256")
    assert j.leads("/s/a.jpg") is None


def test_an_archive_is_taken_only_whole(tmp_path: Path) -> None:
    j = Journal.open(tmp_path, KEY)
    top = _top("b.zip", files=3)
    j.add_verdicts([(top, _decided("b.zip")), (top, _decided("b.zip!/1.jpg"))])
    j.close()  # killed before the third member's chunk
    j = Journal.open(tmp_path, KEY)
    assert j.decided("/s/b.zip", (10, 123)) is None
    # the re-run does the archive again, whole, in this attempt
    j.add_verdicts([(top, _decided(n)) for n in ("b.zip", "b.zip!/1.jpg", "b.zip!/2.jpg")])
    j.close()
    j = Journal.open(tmp_path, KEY)
    taken = j.decided("/s/b.zip", (10, 123))
    assert taken is not None
    assert [d.file.path for d in taken] == ["/s/b.zip", "/s/b.zip!/1.jpg", "/s/b.zip!/2.jpg"]


def test_another_key_or_fresh_starts_empty(tmp_path: Path) -> None:
    j = Journal.open(tmp_path, KEY)
    j.add_verdicts([(_top("a.jpg"), _decided("a.jpg"))])
    j.close()
    j = Journal.open(tmp_path, "x" * 32)
    assert j.decided("/s/a.jpg", (10, 123)) is None
    j.add_verdicts([(_top("a.jpg"), _decided("a.jpg"))])
    j.close()
    j = Journal.open(tmp_path, "x" * 32, fresh=True)
    assert j.decided("/s/a.jpg", (10, 123)) is None
    j.close()


def test_one_process_holds_a_journal(tmp_path: Path) -> None:
    j = Journal.open(tmp_path, KEY)
    with pytest.raises(BlockingIOError):
        Journal.open(tmp_path, KEY)
    j.remove()
    assert not tmp_path.exists()
