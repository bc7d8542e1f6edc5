"""Series use cases through the application layer, on SQLite and PostgreSQL."""

from __future__ import annotations

import pydantic
import pytest

from tessera.app import App, Caller, agencies, links, series, stats
from tessera.errors import Conflict, InvalidInput, NotFound


def _world(app: App, caller: Caller) -> None:
    agencies.create(app, caller, "NL-NPU", country="nl", name="VIT", contact="vit@example.org")
    agencies.create(app, caller, "DE-BKA", country="DE", name="BKA")
    series.create(app, caller, "Amber", "NL-NPU", baseline=True, category=1)


def test_create_show_and_status(app: App, caller: Caller) -> None:
    _world(app, caller)
    detail = series.show(app, caller, "Amber")
    assert detail.owner_code == "NL-NPU" and detail.owner_country == "NL"
    assert detail.baseline and detail.category == 1 and detail.media_count == 0
    assert not detail.victim_identified and detail.markers == () and detail.linked_media == ()
    updated = series.set_status(app, caller, "Amber", victim_identified=True, by_code="DE-BKA")
    assert updated.victim_identified and updated.victim_identified_by == "DE-BKA"
    assert updated.victim_identified_at is not None
    data = updated.to_json()
    assert data["victim_identified_at"] == updated.victim_identified_at.isoformat()
    cleared = series.set_status(app, caller, "Amber", victim_identified=False, by_code="DE-BKA")
    assert cleared.victim_identified_by is None and cleared.victim_identified_at is None
    assert [r.name for r in series.list_series(app, caller)] == ["Amber"]


def test_results_are_immutable(app: App, caller: Caller) -> None:
    _world(app, caller)
    detail = series.show(app, caller, "Amber")
    with pytest.raises(pydantic.ValidationError):
        detail.name = "Other"  # type: ignore[misc]


def test_errors_come_from_the_one_hierarchy(app: App, caller: Caller) -> None:
    _world(app, caller)
    with pytest.raises(NotFound):
        series.show(app, caller, "missing")
    with pytest.raises(Conflict):
        series.create(app, caller, "Amber", "NL-NPU")
    with pytest.raises(NotFound):
        series.create(app, caller, "Other", "XX-NONE")
    with pytest.raises(InvalidInput):
        links.link(app, caller, "victim", "V-1")  # neither series nor media


def test_person_identification_keeps_who_only_while_identified(app: App, caller: Caller) -> None:
    _world(app, caller)
    r = links.link(
        app, caller, "victim", "V-1", series_name="Amber", identified=True, by_code="NL-NPU"
    )
    assert r.added and r.owner == "series"
    again = links.link(app, caller, "victim", "V-1", series_name="Amber")
    assert not again.added and again.target_id == r.target_id
    st = stats.stats(app, caller)
    assert st.victims == 1 and st.identified_victims == 1
    assert st.per_agency["NL-NPU"]["victims_identified"] == 1
    links.link(
        app, caller, "victim", "V-1", series_name="Amber", identified=False, by_code="NL-NPU"
    )
    st = stats.stats(app, caller)
    assert st.identified_victims == 0 and st.per_agency["NL-NPU"]["victims_identified"] == 0
