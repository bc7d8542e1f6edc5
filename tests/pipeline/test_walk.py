"""``tessera.pipeline.walk.iter_files``: which paths a run processes, and in what order."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest

from tessera.pipeline.walk import Found, iter_files


def _touch(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _rel(found: list[Found], root: Path) -> list[str]:
    return [f.path.relative_to(root).as_posix() for f in found]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A nested tree whose files are created in an order unlike the sorted one."""
    root = tmp_path / "root"
    for rel in ["b.txt", "sub/z.bin", "a.txt", "sub/deeper/k.jpg", "10.png", "9.png", "C.txt"]:
        _touch(root / rel)
    (root / "empty-dir").mkdir()
    return root


def test_walk_order_is_sorted_recursive_and_deterministic(tree: Path) -> None:
    """Folders are walked recursively, files of a folder (by code point) before its subfolders."""
    first = list(iter_files([tree]))
    second = list(iter_files([tree]))
    assert first == second
    assert _rel(first, tree) == [
        "10.png",
        "9.png",
        "C.txt",
        "a.txt",
        "b.txt",
        "sub/z.bin",
        "sub/deeper/k.jpg",
    ]
    assert all(f.skip_reason is None and not f.missing for f in first)


def test_walk_sibling_folders_are_visited_in_sorted_order(tmp_path: Path) -> None:
    """Sibling folders are descended into in sorted order, each one completely before the next."""
    for rel in ["b/2", "a/y/1", "a/x", "c"]:
        _touch(tmp_path / rel)
    assert _rel(list(iter_files([tmp_path])), tmp_path) == ["c", "a/x", "a/y/1", "b/2"]


def test_files_given_directly_are_kept_in_argument_order(tree: Path) -> None:
    """Paths named on the command line are yielded as given and in the given order, not sorted."""
    b, a = tree / "b.txt", tree / "a.txt"
    found = list(iter_files([str(b), a]))
    assert found == [Found(b), Found(a)]


def test_mixed_arguments_keep_order_and_expand_folders_in_place(tree: Path) -> None:
    """A folder argument expands where it stands among file arguments."""
    found = list(iter_files([tree / "b.txt", tree / "sub", tree / "a.txt"]))
    assert _rel(found, tree) == ["b.txt", "sub/z.bin", "sub/deeper/k.jpg", "a.txt"]


def test_missing_path_is_reported_not_dropped(tmp_path: Path) -> None:
    """A path that does not exist yields one ``Found`` with ``missing=True`` and no skip reason."""
    good = _touch(tmp_path / "good.txt")
    gone = tmp_path / "nope" / "gone.jpg"
    found = list(iter_files([gone, good]))
    assert found == [Found(gone, missing=True), Found(good)]


def test_symlinks_inside_a_folder_are_skipped_not_followed(tmp_path: Path) -> None:
    """Links to files and to folders inside a walked folder are reported as skipped ``symlink``."""
    root = tmp_path / "root"
    target_file = _touch(tmp_path / "outside" / "secret.txt")
    _touch(root / "real.txt")
    (root / "file-link.txt").symlink_to(target_file)
    (root / "dir-link").symlink_to(target_file.parent, target_is_directory=True)
    found = list(iter_files([root]))
    by_name = {f.path.name: f for f in found}
    assert set(by_name) == {"real.txt", "file-link.txt", "dir-link"}
    assert by_name["file-link.txt"].skip_reason == "symlink"
    assert by_name["dir-link"].skip_reason == "symlink"
    assert by_name["real.txt"].skip_reason is None
    # nothing reached through the folder link
    assert all("secret" not in str(f.path) for f in found)


def test_symlink_cycle_does_not_loop(tmp_path: Path) -> None:
    """A link pointing back up the tree is skipped once; the walk terminates."""
    root = tmp_path / "root"
    _touch(root / "a" / "f.txt")
    (root / "a" / "up").symlink_to(root, target_is_directory=True)
    (root / "self").symlink_to(root / "self")  # a link to itself (ELOOP when followed)
    found = list(itertools.islice(iter_files([root]), 100))
    assert _rel(found, root) == ["self", "a/f.txt", "a/up"]
    assert [f.skip_reason for f in found] == ["symlink", None, "symlink"]


def test_symlinked_folder_given_directly_is_skipped(tmp_path: Path) -> None:
    """A folder argument that is itself a symlink is reported as skipped, not walked."""
    real = tmp_path / "real"
    _touch(real / "f.txt")
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    assert list(iter_files([link])) == [Found(link, skip_reason="symlink")]


def test_symlinked_file_given_directly_is_kept(tmp_path: Path) -> None:
    """A file argument that is a symlink is kept as given (the user named it explicitly)."""
    real = _touch(tmp_path / "real.txt")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    assert list(iter_files([link])) == [Found(link)]


def test_special_files_in_a_folder_are_skipped(tmp_path: Path) -> None:
    """A named pipe inside a folder is reported as skipped, never opened (it would block)."""
    _touch(tmp_path / "a.txt")
    os.mkfifo(tmp_path / "pipe")
    found = list(iter_files([tmp_path]))
    assert found == [
        Found(tmp_path / "a.txt"),
        Found(tmp_path / "pipe", skip_reason="not a regular file"),
    ]


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read any folder")
def test_unreadable_folder_is_reported_and_walk_continues(tmp_path: Path) -> None:
    """A folder that cannot be listed is reported as skipped; its siblings are still walked."""
    locked = tmp_path / "a-locked"
    _touch(locked / "hidden.txt")
    _touch(tmp_path / "b" / "f.txt")
    locked.chmod(0)
    try:
        found = list(iter_files([tmp_path]))
    finally:
        locked.chmod(0o755)
    assert _rel(found, tmp_path) == ["a-locked", "b/f.txt"]
    assert found[0].skip_reason is not None
    assert found[0].skip_reason.startswith("unreadable folder")


def test_empty_folder_yields_nothing(tmp_path: Path) -> None:
    """An empty folder contributes no entries (and is not reported as missing)."""
    (tmp_path / "empty").mkdir()
    assert list(iter_files([tmp_path / "empty"])) == []
