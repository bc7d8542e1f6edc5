"""Notification delivery: signed webhook (retried, logged) and e-mail, to real local servers."""

from __future__ import annotations

import pytest

from tessera.app import App, delivery, lookup
from tessera.app.coop import set_delivery
from tessera.errors import InvalidInput
from tessera.storage import coop as store
from tests.app.receivers import SECRET, smtp_server, wait_for, webhook
from tests.app.test_coop import OP, q, user, world


def test_webhook_signed_retried_and_logged_email_sent(app: App) -> None:
    hashes = world(app)
    with webhook(fail_first=2) as hook, smtp_server() as box:
        set_delivery(
            app,
            OP,
            "NL-A",
            webhook_url=hook.url,
            webhook_secret=SECRET,
            email_to="vid@nl-a.example",
            smtp_host=box.host,
            smtp_port=box.port,
            smtp_from="tessera@node.example",
        )
        from tessera.app import coop

        ids = coop.notice(
            app,
            user("DE-B"),
            {
                m.media_id
                for a in lookup.lookup(app, OP, [q(hashes["secret"][0])]).results
                for m in a.matches
            },
            via="lookup",
            deliver=False,
        )
        assert len(ids) == 1
        out = delivery.deliver(app, ids, backoff=0.01)
        assert out == {ids[0]: {"webhook": True, "email": True}}
        assert hook.rejected == 0 and hook.requests == 3
        (body,) = hook.received
        assert body["id"] == ids[0] and body["kind"] == "series-hit"
        assert body["payload"]["finder_agency"] == "DE-B"
        (mail,) = box.messages
        assert mail["To"] == "vid@nl-a.example"
        assert "DE-B (DE)" in mail["Subject"] and "S-Secret" in mail.get_payload()
    with app.transaction() as s:
        log = sorted((a.channel, a.attempt, a.ok) for a in store.attempts(s, ids[0]))
    assert log == [
        ("email", 1, True),
        ("webhook", 1, False),
        ("webhook", 2, False),
        ("webhook", 3, True),
    ]


def test_lookup_delivers_in_background_with_a_wrong_secret_rejected(app: App) -> None:
    hashes = world(app)
    with webhook(secret="the-receiver-knows-another-secret") as hook:
        set_delivery(app, OP, "NL-A", webhook_url=hook.url, webhook_secret=SECRET)
        lookup.lookup(app, user("DE-B"), [q(hashes["secret"][0])])
        assert wait_for(lambda: hook.rejected >= 1)
        assert hook.received == []


def test_delivery_settings_are_checked(app: App) -> None:
    world(app)
    with pytest.raises(InvalidInput):
        set_delivery(app, OP, "NL-A", webhook_url="file:///etc/passwd", webhook_secret=SECRET)
    with pytest.raises(InvalidInput):
        set_delivery(app, OP, "NL-A", webhook_url="http://127.0.0.1/x", webhook_secret="short")
    with pytest.raises(InvalidInput):
        set_delivery(app, OP, "NL-A", email_to="a@b.example")


def test_outbox_survives_a_restart_retried_with_backoff_each_attempt_logged(app: App) -> None:
    """The receiver is down: the delivery stays owed (pending) with exponential back-off,
    survives closing the application (a restart), and is delivered, signed, by a new
    one once the receiver is up; a receiver that never comes back ends ``failed``."""
    from datetime import UTC, datetime, timedelta

    from tessera.app import coop
    from tessera.app.delivery import DeliveryRun, list_outbox, run_due
    from tests.app.receivers import _free_port

    hashes = world(app)
    port = _free_port()  # nothing listens there yet
    set_delivery(
        app, OP, "NL-A", webhook_url=f"http://127.0.0.1:{port}/tessera", webhook_secret=SECRET
    )
    media = {
        m.media_id
        for a in lookup.lookup(app, OP, [q(hashes["secret"][0])]).results
        for m in a.matches
    }
    (nid,) = coop.notice(app, user("DE-B"), media, via="lookup", deliver=False)
    t0 = datetime.now(UTC)
    assert run_due(app, now=t0, backoff=10) == DeliveryRun(delivered=0, retrying=1, failed=0)
    (row,) = list_outbox(app, OP)
    assert (
        row.state == "pending" and row.attempts == 1 and row.next_at == t0 + timedelta(seconds=10)
    )
    assert row.last_error and "refused" in row.last_error.lower()
    assert run_due(app, now=t0 + timedelta(seconds=9), backoff=10).retrying == 0  # not yet due
    assert run_due(app, now=t0 + timedelta(seconds=10), backoff=10).retrying == 1
    (row,) = list_outbox(app, OP)
    assert row.attempts == 2 and row.next_at == t0 + timedelta(seconds=30)  # 10 s, then 20 s
    settings = app.settings
    app.close()  # the process ends with the delivery still owed
    with App(settings) as again, webhook(port=port) as hook:
        r = run_due(again, now=t0 + timedelta(seconds=30), backoff=10)
        assert r == DeliveryRun(delivered=1, retrying=0, failed=0)
        (body,) = hook.received
        assert body["id"] == nid and hook.rejected == 0
        assert list_outbox(again, OP) == []
        with again.transaction() as s:
            log = [(a.channel, a.attempt, a.ok) for a in store.attempts(s, nid)]
        assert log == [("webhook", 1, False), ("webhook", 2, False), ("webhook", 3, True)]
        # a second notice to a receiver that is gone for good: failed after the tries
        set_delivery(
            again,
            OP,
            "NL-A",
            webhook_url=f"http://127.0.0.1:{_free_port()}/x",
            webhook_secret=SECRET,
        )
        (nid2,) = coop.notice(again, user("FR-C"), media, via="lookup", deliver=False)
        for i in range(3):
            run_due(again, now=t0 + timedelta(hours=i + 1), attempts=3, backoff=1)
        (gone,) = list_outbox(again, OP)
        assert gone.notification_id == nid2 and gone.state == "failed" and gone.attempts == 3
