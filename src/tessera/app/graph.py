"""The case graph: series, cases, victims, offenders, locations and agencies to explore.

An investigator starts at their agency (or any node whose id they have), expands a
node to see its neighbours of the types they choose, one page at a time. What
the graph shows follows the sharing rules (``tessera.app.visibility``), as every
other read does:

* agencies are the network's directory: always shown;
* a series or a case is a node from ``status`` (its name or number);
* victims, offenders and locations are ``full`` facts of a series: shown only
  through a series the caller sees in ``full`` (and expanding one shows only such
  series);
* a series and a case are tied when the case's sightings hold media of the series:
  a sighting is a ``full`` fact of its case, so the tie needs the case in ``full``.

A node the caller may not see answers ``NotFound``, worded as for a missing one.
Each view is audited for network callers (``graph.view``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from tessera.app import audit
from tessera.app.caller import Caller
from tessera.app.context import App
from tessera.app.paging import split_page
from tessera.app.results import Result
from tessera.app.visibility import Level, Visibility, transaction
from tessera.errors import InvalidInput, NotFound
from tessera.storage import graph
from tessera.storage.db import Session
from tessera.storage.graph import NODE_TYPES, NodeRow, NodeType

DEFAULT_PAGE = 50


class GraphNode(Result):
    """One node; ``key`` (``type:id``) names it in edges and URLs."""

    key: str
    type: str
    id: int
    label: str
    identified: bool | None = None


class GraphEdge(Result):
    source: str
    target: str
    relation: str
    weight: int = 1


class GraphView(Result):
    """A node and one page of its neighbours (of ``types``), with the edges to them.

    ``more`` names the types with further neighbours: ask again with ``offset`` +
    ``limit``. Without a node (the operator, who has no agency), ``center`` is None
    and ``nodes`` is a page of agencies.
    """

    center: GraphNode | None
    nodes: tuple[GraphNode, ...]
    edges: tuple[GraphEdge, ...]
    types: tuple[str, ...]
    limit: int
    offset: int
    more: tuple[str, ...]


def node_key(type_: str, node_id: int) -> str:
    return f"{type_}:{node_id}"


def parse_key(text: str) -> tuple[NodeType, int]:
    """``series:12`` -> ("series", 12); ``InvalidInput`` for anything else."""
    kind, sep, raw = text.strip().partition(":")
    if not sep or not raw.isdigit() or len(raw) > 18:
        raise InvalidInput(f"graph node {text!r} must be TYPE:ID, e.g. series:12")
    return graph.parse_type(kind), int(raw)


def parse_types(texts: Sequence[str] | None) -> tuple[NodeType, ...]:
    """The node types to show (all when none are given), in the canonical order."""
    if not texts:
        return NODE_TYPES
    wanted = {graph.parse_type(t.strip()) for t in texts if t.strip()}
    return tuple(t for t in NODE_TYPES if t in wanted) or NODE_TYPES


def _node(row: NodeRow) -> GraphNode:
    return GraphNode(
        key=node_key(row.type, row.id),
        type=row.type,
        id=row.id,
        label=row.label,
        identified=row.identified,
    )


def _require_node(s: Session, vis: Visibility, type_: NodeType, node_id: int) -> NodeRow:
    """The node, or ``NotFound`` (as for a missing one) when the caller may not see it."""
    row = graph.get_node(s, type_, node_id)
    if vis.everything or type_ == "agency":
        return row
    if type_ == "series":
        ok = vis.series_level(node_id) >= Level.STATUS
    elif type_ == "case":
        ok = vis.case_levels([node_id])[node_id] >= Level.STATUS
    else:
        linked = graph.series_of_people(s, type_, node_id)
        ok = any(lv >= Level.FULL for lv in vis.series_levels(linked).values())
    if not ok:
        raise NotFound(f"no {type_} with id {node_id}")
    return row


def _allowed(vis: Visibility, center: NodeRow, want: NodeType) -> Collection[int] | None:
    """Ids of ``want`` nodes the caller may see next to ``center`` (None: any);
    an empty set when the relation itself is hidden."""
    if vis.everything or want == "agency":
        return None
    t = center.type
    if t == "series" and want in ("victim", "offender", "location"):
        return None if vis.series_level(center.id) >= Level.FULL else set()
    if t == "case" and want == "series":
        full = vis.case_levels([center.id])[center.id] >= Level.FULL
        return vis.visible_series(Level.STATUS) if full else set()
    if want == "series":  # from an agency (status) or a person (full series only)
        return vis.visible_series(Level.STATUS if t == "agency" else Level.FULL)
    if want == "case":  # from an agency (status) or a series (sightings: full)
        return vis.visible_cases(Level.STATUS if t == "agency" else Level.FULL)
    return set()


def neighbourhood(
    app: App,
    caller: Caller,
    node: str | None = None,
    *,
    types: Sequence[str] | None = None,
    limit: int = DEFAULT_PAGE,
    offset: int = 0,
) -> GraphView:
    """``node`` (``type:id``; default: the caller's agency) and one page of its
    neighbours of ``types`` (default: all), each type paged alike."""
    if not 1 <= limit <= graph.MAX_PAGE or offset < 0:
        raise InvalidInput(f"limit must be 1..{graph.MAX_PAGE} and offset >= 0")
    want = parse_types(types)
    with transaction(app, caller) as (s, vis):
        if node is None and vis.agency_id is None:
            rows, more_agencies = split_page(
                graph.agencies(s, limit=limit + 1, offset=offset), limit
            )
            view = GraphView(
                center=None,
                nodes=tuple(_node(r) for r in rows),
                edges=(),
                types=("agency",),
                limit=limit,
                offset=offset,
                more=("agency",) if more_agencies else (),
            )
        else:
            type_, node_id = parse_key(node) if node else ("agency", vis.agency_id or 0)
            center = _require_node(s, vis, type_, node_id)
            nodes: dict[str, GraphNode] = {}
            edges: list[GraphEdge] = []
            more: list[str] = []
            for t in want:
                only = _allowed(vis, center, t)
                found, more_of_type = split_page(
                    graph.neighbours(
                        s, center.type, center.id, t, limit=limit + 1, offset=offset, only=only
                    ),
                    limit,
                )
                if more_of_type:
                    more.append(t)
                for n in found:
                    gn = _node(n.node)
                    nodes.setdefault(gn.key, gn)
                    edges.append(
                        GraphEdge(
                            source=node_key(center.type, center.id),
                            target=gn.key,
                            relation=n.relation,
                            weight=n.weight,
                        )
                    )
            view = GraphView(
                center=_node(center),
                nodes=tuple(nodes.values()),
                edges=tuple(edges),
                types=want,
                limit=limit,
                offset=offset,
                more=tuple(more),
            )
    if not caller.is_local_operator:
        audit.record(
            app,
            caller,
            "graph.view",
            target=view.center.key if view.center else None,
            params={"types": list(want), "limit": limit, "offset": offset},
            result_count=len(view.nodes),
        )
    return view


__all__ = [
    "GraphEdge",
    "GraphNode",
    "GraphView",
    "neighbourhood",
    "node_key",
    "parse_key",
    "parse_types",
]
