"""A progress bar with rate and ETA on stderr, for long runs.

Written to stderr so that stdout stays clean for tables and ``--json``. When
disabled it costs nothing; when stderr is not a terminal but progress was asked
for, ``rich`` prints plain refreshed lines.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from tessera.cli.terminal import raw_stderr


class _RateColumn(TextColumn):
    def __init__(self, unit: str) -> None:
        super().__init__("")
        self.unit = unit

    def render(self, task):  # type: ignore[no-untyped-def]
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.1f} {self.unit}/s" if speed else f"- {self.unit}/s")


class Ticker:
    """``ticker(n)`` advances the bar; ``ticker.set_total(n)`` once the total is known."""

    def __init__(self, advance: Callable[[int], None], set_total: Callable[[int], None]) -> None:
        self._advance, self._set_total = advance, set_total

    def __call__(self, n: int) -> None:
        self._advance(n)

    def set_total(self, n: int) -> None:
        self._set_total(n)


@contextmanager
def progress_bar(
    total: int | None, label: str, *, enabled: bool, unit: str = "files"
) -> Iterator[Ticker]:
    """Yield a ``Ticker``; draws ``label [bar] n/total pct rate elapsed eta``."""
    if not enabled:
        yield Ticker(lambda n: None, lambda n: None)
        return
    console = Console(file=raw_stderr())
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        _RateColumn(unit),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
        refresh_per_second=4,
    ) as prog:
        task = prog.add_task(label, total=total)
        yield Ticker(lambda n: prog.advance(task, n), lambda n: prog.update(task, total=n))


class StageBars:
    """``tessera.app.progress.Progress`` drawn as one bar per stage (when ``enabled``)."""

    def __init__(self, *, enabled: bool, unit: str = "files") -> None:
        self.enabled, self.unit = enabled, unit
        self._stack: ExitStack | None = None
        self._ticker: Ticker | None = None

    def begin(self, label: str, total: int | None = None) -> None:
        self.end()
        self._stack = ExitStack()
        self._ticker = self._stack.enter_context(
            progress_bar(total, label, enabled=self.enabled, unit=self.unit)
        )

    def set_total(self, n: int) -> None:
        if self._ticker is not None:
            self._ticker.set_total(n)

    def advance(self, n: int) -> None:
        if self._ticker is not None:
            self._ticker(n)

    def end(self) -> None:
        if self._stack is not None:
            self._stack.close()
        self._stack, self._ticker = None, None
