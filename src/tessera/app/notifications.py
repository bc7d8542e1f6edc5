"""A notification as readers see it: title, text and payload, rendered from its row.

One rendering for the API, the CLI, e-mail and webhooks, so every channel says the
same. (Raising notifications is ``tessera.app.coop``; delivering them
``tessera.app.delivery``.)
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tessera.app.results import Result
from tessera.storage import coop as store
from tessera.storage.db import Session
from tessera.storage.models import Notification


class NotificationView(Result):
    id: int
    kind: str
    agency: str
    title: str
    text: str
    payload: dict[str, Any]
    created_at: datetime
    count: int = 1
    """How many times this notice was raised within the window (re-runs of one triage)."""
    updated_at: datetime | None = None
    """When it was last raised again."""
    user: bool = False
    """Addressed to the reader personally (else to the reader's agency)."""
    read: bool = False
    read_at: datetime | None = None


def render(s: Session, n: Notification) -> NotificationView:
    """A notification's title and text (what e-mail and the CLI show) from its payload."""
    p = n.payload
    agency = store.agencies(s, [n.agency_id])[n.agency_id]
    if n.kind == "series-hit":
        case = f", their case {p['finder_case']}" if p.get("finder_case") else ""
        title = f"{p['finder_agency']} ({p['finder_country']}) hit series {p['series']}"
        text = (
            f"Agency {p['finder_agency']} ({p['finder_country']}) found {p['files']} file(s) "
            f"of your series {p['series']} by {p['via']} at {p['at']}{case}. "
            f"Overlap {p['overlap']}: mark it same-investigation, related or unrelated."
        )
    elif n.kind == "case-overlap":
        o = p["other"]
        if o.get("agency"):
            who = f"agency {o['agency']} ({o['country']})'s case {o['case']}"
        elif o.get("contact"):
            who = f"a case of another agency (contact {o['contact']})"
        else:
            who = "a case of another agency (not shared with you)"
        title = f"your case {p['your_case']} shares {p['files']} file(s) with {who}"
        text = (
            f"Your case {p['your_case']} and {who} share {p['files']} new file(s) "
            f"(found by {p['via']} at {p['at']}). Overlap {p['overlap']}."
        )
    else:
        title = n.kind
        text = str(p)
    return NotificationView(
        id=n.id,
        kind=n.kind,
        agency=agency.code,
        title=title,
        text=text,
        payload=p,
        created_at=n.created_at,
        count=n.count or 1,
        updated_at=n.updated_at,
        user=n.user_id is not None,
    )


__all__ = ["NotificationView", "render"]
