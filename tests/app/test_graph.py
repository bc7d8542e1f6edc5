"""The case graph: neighbourhoods, type filter, pages, and the sharing rules on nodes
and edges (on SQLite and PostgreSQL). Expected node sets are written out from the
rules in ``sharing_world`` (never computed by the code under test)."""

from __future__ import annotations

import pytest

from tessera.app import App, Caller, Role
from tessera.app import graph as graph_uc
from tessera.errors import InvalidInput, NotFound
from tessera.storage import audit_log
from tests.app.sharing_world import RESOURCES, build, series_name

NL_B = Caller(role=Role.ANALYST, user_id=7, email="b@example.org", agency_code="NL-B")
OP = Caller.local_operator()
# the series of NL-A that NL-B sees at status or more, and in full
STATUS_UP = {
    "default",
    "network-status",
    "network-full",
    "country-status",
    "country-full",
    "agency-status",
    "agency-full",
}
FULL = {"network-full", "country-full", "agency-full"}


@pytest.fixture
def world(app: App) -> tuple[App, dict[str, dict[str, int]]]:
    with app.transaction() as s:
        ids = build(s)
    return app, ids


def _labels(view: graph_uc.GraphView, type_: str) -> set[str]:
    return {n.label for n in view.nodes if n.type == type_}


def _agency_key(app: App, code: str) -> str:
    v = graph_uc.neighbourhood(app, OP, types=["agency"], limit=10)
    return next(n.key for n in v.nodes if n.label == code)


def test_an_agency_node_shows_the_series_and_cases_the_caller_may_see(world) -> None:  # type: ignore[no-untyped-def]
    app, _ = world
    nl_a = _agency_key(app, "NL-A")
    v = graph_uc.neighbourhood(app, NL_B, nl_a)
    assert v.center is not None and v.center.label == "NL-A"
    assert _labels(v, "series") == {series_name(r) for r in STATUS_UP}
    assert _labels(v, "case") == set()  # NL-A's cases are not shared (default none)
    assert all(e.source == nl_a and e.relation == "owns" for e in v.edges)
    everything = graph_uc.neighbourhood(app, OP, nl_a)
    owned_by_a = {r for r, spec in RESOURCES.items() if spec[0] == "NL-A"}
    assert _labels(everything, "series") == {series_name(r) for r in owned_by_a}
    assert _labels(everything, "case") == {f"C-{r} (NL-A)" for r in owned_by_a}
    # NL-B's own agency is where it starts
    home = graph_uc.neighbourhood(app, NL_B)
    assert home.center is not None and home.center.label == "NL-B"
    assert _labels(home, "series") == {"S-own"} and _labels(home, "case") == {"C-own (NL-B)"}


def test_victims_offenders_locations_only_through_a_series_seen_in_full(world) -> None:  # type: ignore[no-untyped-def]
    app, ids = world
    for res in STATUS_UP:
        v = graph_uc.neighbourhood(app, NL_B, f"series:{ids[res]['series']}")
        if res in FULL:
            assert _labels(v, "victim") == {f"V-{res}"}
            assert _labels(v, "offender") == {f"O-{res}"}
            assert _labels(v, "location") == {f"L-{res}"}
        else:
            assert _labels(v, "victim") == _labels(v, "offender") == _labels(v, "location") == set()
        assert _labels(v, "agency") == {"NL-A"}
        assert _labels(v, "case") == set()  # a sighting is a full fact of its case
    # a victim of a status-only series does not exist for NL-B; one of a full one does
    op_view = graph_uc.neighbourhood(
        app, OP, f"series:{ids['network-status']['series']}", types=["victim"]
    )
    hidden = op_view.nodes[0].key
    with pytest.raises(NotFound):
        graph_uc.neighbourhood(app, NL_B, hidden)
    full_view = graph_uc.neighbourhood(
        app, NL_B, f"series:{ids['network-full']['series']}", types=["victim"]
    )
    back = graph_uc.neighbourhood(app, NL_B, full_view.nodes[0].key)
    assert _labels(back, "series") == {"S-network-full"}
    for res in ("unshared", "network-hash", "agency-none", "other-agency-full"):
        with pytest.raises(NotFound):
            graph_uc.neighbourhood(app, NL_B, f"series:{ids[res]['series']}")
        with pytest.raises(NotFound):
            graph_uc.neighbourhood(app, NL_B, f"case:{ids[res]['case']}")


def test_series_and_cases_are_tied_by_sightings_with_their_weight(world) -> None:  # type: ignore[no-untyped-def]
    app, ids = world
    own = graph_uc.neighbourhood(app, NL_B, f"series:{ids['own']['series']}", types=["case"])
    assert [(e.target, e.relation, e.weight) for e in own.edges] == [
        (f"case:{ids['own']['case']}", "sighted-in", 1)
    ]
    back = graph_uc.neighbourhood(app, NL_B, f"case:{ids['own']['case']}", types=["series"])
    assert _labels(back, "series") == {"S-own"}
    assert back.edges[0].weight == 1


def test_type_filter_and_pages(world) -> None:  # type: ignore[no-untyped-def]
    app, ids = world
    v = graph_uc.neighbourhood(
        app, OP, f"series:{ids['own']['series']}", types=["victim", "offender"]
    )
    assert {n.type for n in v.nodes} == {"victim", "offender"} and v.types == (
        "victim",
        "offender",
    )
    nl_a = _agency_key(app, "NL-A")
    owned = sorted(series_name(r) for r, spec in RESOURCES.items() if spec[0] == "NL-A")
    seen: list[str] = []
    offset = 0
    while True:
        page = graph_uc.neighbourhood(app, OP, nl_a, types=["series"], limit=4, offset=offset)
        seen += [n.label for n in page.nodes]
        if "series" not in page.more:
            break
        offset += 4
    assert seen == owned  # every series once, in name order, page by page
    with pytest.raises(InvalidInput):
        graph_uc.neighbourhood(app, OP, "media:1")
    with pytest.raises(InvalidInput):
        graph_uc.neighbourhood(app, OP, "series:abc")
    with pytest.raises(InvalidInput):
        graph_uc.neighbourhood(app, OP, nl_a, types=["planet"])


def test_network_callers_views_are_audited(world) -> None:  # type: ignore[no-untyped-def]
    app, ids = world
    with app.transaction() as s:
        before = audit_log.head(s).size
    graph_uc.neighbourhood(app, NL_B, f"series:{ids['own']['series']}")
    graph_uc.neighbourhood(app, OP, f"series:{ids['own']['series']}")  # local: not logged
    with app.transaction() as s:
        assert audit_log.head(s).size == before + 1
