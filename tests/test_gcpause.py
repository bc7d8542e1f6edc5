"""``gcpause.paused``: the collector stays off while any pause (of any thread) is
open and comes back as it was when the first began."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from tessera import gcpause


@pytest.fixture(autouse=True)
def _restore() -> Iterator[None]:
    was = gc.isenabled()
    yield
    (gc.enable if was else gc.disable)()


def test_nested_pauses_restore_the_first_state() -> None:
    gc.enable()
    with gcpause.paused():
        assert not gc.isenabled()
        with gcpause.paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    with gcpause.paused():
        pass
    assert not gc.isenabled()  # it was off: it stays off


def test_a_pause_ending_on_one_thread_leaves_another_threads_pause_on() -> None:
    gc.enable()
    inside, leave = threading.Event(), threading.Event()
    seen: list[bool] = []

    def other() -> None:
        with gcpause.paused():
            inside.set()
            leave.wait(10)
            seen.append(gc.isenabled())

    with gcpause.paused():
        t = threading.Thread(target=other)
        t.start()
        assert inside.wait(10)
    assert not gc.isenabled()  # this thread's pause ended first: the other one's holds
    leave.set()
    t.join(10)
    assert seen == [False]
    assert gc.isenabled()


def test_frozen_exempts_what_lives_now_and_still_collects_new_cycles() -> None:
    """Objects alive at entry are frozen; a cycle made inside is still collected;
    leaving the block unfreezes everything."""
    import weakref

    class Node:
        def __init__(self) -> None:
            self.me = self

    gc.unfreeze()
    old = Node()
    with gcpause.frozen():
        assert gc.get_freeze_count() > 0
        new = Node()
        gone = weakref.ref(new)
        del new
        gc.collect()
        assert gone() is None  # made after the freeze: collected as usual
        kept = weakref.ref(old)
        del old
        gc.collect()
        assert kept() is not None  # a frozen cycle waits for the end of the block
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert kept() is None
