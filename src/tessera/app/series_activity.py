"""What the network did with a series: submissions by agency, confirmations and
disputes, and the caller's agency's overlaps on it (the series page's lower half).

Submissions and verdicts are ``status`` facts (``tessera.app.visibility``): a
caller who sees the series at ``status`` sees them; below that the series does
not exist for them. Overlaps are the caller's own agency's (``coop.list_overlaps``).
"""

from __future__ import annotations

from tessera.app import coop
from tessera.app.caller import Caller
from tessera.app.context import App
from tessera.app.coop import OverlapView
from tessera.app.results import Result, Timestamp
from tessera.app.visibility import transaction
from tessera.storage import repo
from tessera.storage import series_activity as store


class AgencySubmissions(Result):
    agency: str
    country: str
    media: int
    first_seen: Timestamp | None
    last_seen: Timestamp | None


class AgencyVerdicts(Result):
    agency: str
    country: str
    verdict: str
    """``confirm`` or ``dispute``."""
    reason: str | None
    media: int


class SeriesActivity(Result):
    series: str
    submissions: tuple[AgencySubmissions, ...]
    verdicts: tuple[AgencyVerdicts, ...]
    overlaps: tuple[OverlapView, ...]


def activity(
    app: App, caller: Caller, name: str, *, sort: str = "media", descending: bool = True
) -> SeriesActivity:
    """Submissions by agency (most media first, or in another ``SUBMISSION_SORTS``
    order, sorted in SQL), verdicts by agency, and the caller's overlaps on ``name``."""
    with transaction(app, caller) as (s, vis):
        series = repo.get_series(s, name)
        vis.require_series(series)
        subs = tuple(
            AgencySubmissions(**r.__dict__)
            for r in store.submissions(s, series.id, sort=sort, descending=descending)
        )
        verdicts = tuple(AgencyVerdicts(**r.__dict__) for r in store.verdicts(s, series.id))
        real_name, series_id = series.name, series.id
    overlaps = tuple(coop.list_overlaps(app, caller, series_id=series_id))
    return SeriesActivity(series=real_name, submissions=subs, verdicts=verdicts, overlaps=overlaps)


__all__ = ["AgencySubmissions", "AgencyVerdicts", "SeriesActivity", "activity"]
