"""Counts over the whole database, and per agency."""

from __future__ import annotations

from tessera.app.caller import Caller
from tessera.app.context import App
from tessera.app.results import Result
from tessera.storage import repo


class Statistics(Result):
    media: int
    sightings: int
    series: int
    identified_victims: int
    victims: int
    offenders: int
    identified_offenders: int
    per_agency: dict[str, dict[str, int]]


def stats(app: App, caller: Caller) -> Statistics:
    """Media, sightings, series, victims and offenders (identified of all), per agency."""
    with app.transaction() as s:
        return Statistics(**repo.stats(s).__dict__)


__all__ = ["Statistics", "stats"]
