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
        log = [(a.channel, a.attempt, a.ok) for a in store.attempts(s, ids[0])]
    assert log == [
        ("webhook", 1, False),
        ("webhook", 2, False),
        ("webhook", 3, True),
        ("email", 1, True),
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
