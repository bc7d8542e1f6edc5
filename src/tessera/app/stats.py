"""Counts over the whole database, and per agency."""

from __future__ import annotations

from tessera.app.caller import Caller
from tessera.app.context import App
from tessera.app.results import Result
from tessera.app.visibility import Level, transaction
from tessera.storage import repo, sharing


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
    """Media, sightings, series, victims and offenders (identified of all), per agency.

    Counted over what the caller sees (``tessera.app.visibility``): media at ``hash``
    or more, series, cases and sightings at ``status``, victims and offenders of
    series at ``full``; the local operator counts everything.
    """
    with transaction(app, caller) as (s, vis):
        if vis.everything:
            return Statistics(**repo.stats(s).__dict__)
        series = vis.series_levels(sharing.owners(s, "series").keys())
        cases = vis.case_levels(sharing.owners(s, "case").keys())
        return Statistics(
            **sharing.counts_within(
                s,
                media_series=[i for i, lv in series.items() if lv >= Level.HASH],
                media_cases=[i for i, lv in cases.items() if lv >= Level.HASH],
                status_series=[i for i, lv in series.items() if lv >= Level.STATUS],
                status_cases=[i for i, lv in cases.items() if lv >= Level.STATUS],
                full_series=[i for i, lv in series.items() if lv >= Level.FULL],
            )
        )


__all__ = ["Statistics", "stats"]
