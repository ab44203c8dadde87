"""E-mail delivery through a real SMTP server (aiosmtpd on a free local port)."""

import socket
from datetime import timedelta
from email import message_from_bytes, policy
from email.header import decode_header, make_header

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from arbiter import clock
from arbiter.extensions import db
from arbiter.mail import deliver_due
from arbiter.notifications import OutboxEmail, OutboxState


class Inbox:
    """A real SMTP server that can go down and come back on the same port."""

    def __init__(self, port: int):
        self.messages = []
        self.port = port
        self.controller = None

    def start(self):
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(
            (envelope.rcpt_tos, message_from_bytes(envelope.content, policy=policy.default)))
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp(app):
    inbox = Inbox(_free_port())
    previous = {k: app.config[k] for k in ("MAIL_BACKEND", "SMTP_HOST", "SMTP_PORT")}
    app.config.update(MAIL_BACKEND="smtp", SMTP_HOST="127.0.0.1", SMTP_PORT=inbox.port)
    inbox.start()
    yield inbox
    inbox.stop()
    app.config.update(previous)


def _subject(message) -> str:
    return str(make_header(decode_header(message["Subject"])))


def test_a_notification_arrives_in_the_recipients_language(smtp, create_user, create_order):
    from disputes import services
    from disputes.states import ExpectedOutcome, Reason

    polish_seller = create_user("sprzedawca@example.test", locale="pl")
    english_seller = create_user("seller-en@example.test", locale="en")
    for seller in (polish_seller, english_seller):
        order = create_order(seller=seller)
        services.open_discussion(order, order.buyer, reason=Reason.DAMAGED,
                                 expected_outcome=ExpectedOutcome.REFUND, description="Broken")
    db.session.commit()
    assert deliver_due() == {"sent": 2, "retry": 0, "dead": 0}
    received = {tuple(rcpt): message for rcpt, message in smtp.messages}
    polish = received[("sprzedawca@example.test",)]
    english = received[("seller-en@example.test",)]
    assert _subject(polish).startswith("Kupujący zgłosił problem z zamówieniem ORD-")
    assert _subject(english).startswith("A buyer reported a problem with order ORD-")
    assert polish["Content-Language"] == "pl"
    text = english.get_body(("plain",)).get_content()
    assert "Please answer within 24 hours." in text
    assert "http://127.0.0.1:5000/discussions/" in text
    assert english.get_body(("html",)) is not None
    assert deliver_due()["sent"] == 0  # nothing twice


def test_smtp_down_is_retried_with_backoff_and_delivered_later(smtp, create_discussion,
                                                               time_machine):
    time_machine.move_to(clock.now(), tick=False)
    create_discussion()
    smtp.stop()
    assert deliver_due() == {"sent": 0, "retry": 1, "dead": 0}
    row = db.session.scalar(select(OutboxEmail))
    assert row.state is OutboxState.PENDING and row.attempts == 1
    assert row.send_after == clock.now() + timedelta(minutes=1)
    assert "ConnectionRefusedError" in row.last_error
    assert deliver_due()["retry"] == 0  # not due again before its backoff

    smtp.start()
    time_machine.move_to(clock.now() + timedelta(minutes=1), tick=False)
    assert deliver_due()["sent"] == 1
    db.session.refresh(row)
    assert row.state is OutboxState.SENT and row.attempts == 2
    assert len(smtp.messages) == 1


def test_after_max_attempts_the_email_is_dead_and_staff_see_it(app, smtp, client, auth, staff,
                                                              create_discussion, time_machine):
    time_machine.move_to(clock.now(), tick=False)
    create_discussion()
    smtp.stop()
    for _ in range(app.config["OUTBOX_MAX_ATTEMPTS"]):
        deliver_due()
        time_machine.move_to(clock.now() + timedelta(hours=1), tick=False)
    row = db.session.scalar(select(OutboxEmail))
    assert row.state is OutboxState.DEAD
    assert row.attempts == app.config["OUTBOX_MAX_ATTEMPTS"]

    auth.login(staff.email)
    page = client.get("/staff/outbox").text
    assert row.to_address in page and "ConnectionRefusedError" in page
    smtp.start()
    assert client.post(f"/staff/outbox/{row.id}/retry").status_code == 302
    assert deliver_due()["sent"] == 1
    assert len(smtp.messages) == 1


def test_outbox_page_is_staff_only(client, auth, buyer):
    auth.login(buyer.email)
    assert client.get("/staff/outbox").status_code == 403


def test_a_sender_killed_mid_run_sends_at_most_one_message_twice(app, smtp, create_user,
                                                                 monkeypatch):
    """Issue 26.7: the sender used to mark a whole batch at its end, so one killed after
    the SMTP server accepted 13 messages sent all 13 again. Now each message is marked
    sent in its own transaction: only the one in flight when the sender died goes twice,
    with the same Message-ID."""
    from arbiter import mail
    from arbiter.notifications import notify

    people = [create_user(f"person{number}@example.test") for number in range(20)]
    for person in people:
        notify(person, "discussion.opened", person, order_ref="ORD-1")
    db.session.commit()

    real_send, accepted = mail.send, []

    def dies_after_the_sixth(message):
        real_send(message)
        accepted.append(message["Message-ID"])
        if len(accepted) == 6:
            raise SystemExit("killed")  # after the server's 250, before our commit

    monkeypatch.setattr(mail, "send", dies_after_the_sixth)
    with pytest.raises(SystemExit):
        deliver_due()
    db.session.rollback()
    monkeypatch.setattr(mail, "send", real_send)
    assert deliver_due()["sent"] == 20 - 5

    ids = [message["Message-ID"] for _, message in smtp.messages]
    assert len(ids) == 21 and len(set(ids)) == 20  # one copy more, of the sixth
    assert ids.count(accepted[5]) == 2
    assert db.session.scalar(select(func.count()).select_from(OutboxEmail).where(
        OutboxEmail.state == OutboxState.SENT)) == 20


def test_the_message_id_is_the_same_on_every_attempt(app, create_user):
    from arbiter.mail import message_id
    from arbiter.notifications import notify

    person = create_user()
    notify(person, "discussion.opened", person, order_ref="ORD-1")
    db.session.commit()
    row = db.session.scalar(select(OutboxEmail))
    first = message_id(row)
    row.attempts += 1
    assert message_id(row) == first
    assert first.startswith(f"<outbox-{row.id}-") and first.endswith("@127.0.0.1>")
