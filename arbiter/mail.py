"""E-mail: rendering outbox rows in the recipient's language and delivering them.

Delivery claims one due row at a time with ``FOR UPDATE SKIP LOCKED``, sends it and
records the outcome in that row's own transaction, right after the SMTP server accepted
it. A failed send is retried with exponential backoff; after ``OUTBOX_MAX_ATTEMPTS`` the
row is dead and shows up for staff.

The guarantee is at least once, with duplicates bounded: a sender killed between the
server's "250 OK" and its commit sends that one message again, so each sender that dies
causes at most one duplicate. Every message keeps the same ``Message-ID`` on every
attempt, so mail systems and people can recognise the copy.
"""

import logging
import smtplib
import ssl
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit

from flask import current_app, render_template
from flask_babel import force_locale
from jinja2 import TemplateNotFound
from sqlalchemy import select

from arbiter import clock
from arbiter.extensions import db
from arbiter.notifications import OutboxEmail, OutboxState, text_for_kind
from arbiter.urls import public_url

log = logging.getLogger(__name__)

# Where a notification about an object links to.
OBJECT_ENDPOINTS = {"discussions": ("disputes.thread", "discussion_id"),
                    "claims": ("claims.claim", "claim_id"),
                    "data_exports": ("accounts.account", "export")}


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def _template(name: str, part: str) -> str:
    specific = f"emails/{name}/{part}"
    try:
        current_app.jinja_env.get_template(specific)
    except TemplateNotFound:
        return f"emails/_notification/{part}"
    return specific


def object_url(object_type: str | None, object_id: int | None) -> str:
    target = OBJECT_ENDPOINTS.get(object_type or "")
    if target is None or object_id is None:
        return public_url("core.index")
    endpoint, argument = target
    return public_url(endpoint, **{argument: object_id})


def render(row: OutboxEmail) -> RenderedEmail:
    """Subject, plain text and HTML of one outbox row, in its recipient's language."""
    context = dict(row.context or {})
    with force_locale(row.locale or "pl"):
        context.update(
            summary=text_for_kind(context.get("kind", ""), context),
            url=object_url(context.get("object_type"), context.get("object_id")),
            locale=row.locale,
        )
        subject = render_template(_template(row.template, "subject.txt"), **context)
        text = render_template(_template(row.template, "body.txt"), **context)
        html = render_template(_template(row.template, "body.html"), **context)
    return RenderedEmail(" ".join(subject.split()), text, html)


def build_message(row: OutboxEmail, rendered: RenderedEmail) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = rendered.subject
    message["From"] = current_app.config["MAIL_FROM"]
    message["To"] = row.to_address
    message["Message-ID"] = message_id(row)
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    message["Content-Language"] = row.locale  # after set_content, which drops Content-*
    return message


def message_id(row: OutboxEmail) -> str:
    """The same on every attempt to send ``row`` (a resent copy is recognisable), unique
    across databases (the row's creation time) and in the site's own domain."""
    domain = urlsplit(current_app.config["BASE_URL"]).hostname or "arbiter"
    return f"<outbox-{row.id}-{row.created_at:%Y%m%d%H%M%S%f}@{domain}>"


def send(message: EmailMessage) -> None:
    backend = current_app.config["MAIL_BACKEND"]
    if backend == "smtp":
        _send_smtp(message)
    elif backend == "file":
        directory = Path(current_app.config["MAIL_DIR"])
        directory.mkdir(parents=True, exist_ok=True)
        name = message["Message-ID"].strip("<>").replace("@", "_")
        (directory / f"{name}.eml").write_bytes(message.as_bytes())
    elif backend == "console":
        log.info("e-mail to %s: %s", message["To"], message["Subject"])
    else:
        raise RuntimeError(f"unknown MAIL_BACKEND {backend!r}")


def _send_smtp(message: EmailMessage) -> None:
    config = current_app.config
    host, port = config["SMTP_HOST"], int(config["SMTP_PORT"])
    timeout = float(config["SMTP_TIMEOUT"])
    security = config["SMTP_SECURITY"]  # none | starttls | ssl
    context = ssl.create_default_context()
    if security == "ssl":
        client = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
    else:
        client = smtplib.SMTP(host, port, timeout=timeout)
    with client:
        if security == "starttls":
            client.starttls(context=context)
        if config.get("SMTP_USERNAME"):
            client.login(config["SMTP_USERNAME"], config["SMTP_PASSWORD"])
        client.send_message(message)


def backoff(attempts: int) -> timedelta:
    """1, 2, 4, 8 ... minutes, at most one hour."""
    return timedelta(minutes=min(2 ** max(attempts - 1, 0), 60))


def deliver_due(*, limit: int = 500) -> dict[str, int]:
    """Send the due outbox rows, each in a transaction of its own, at most ``limit`` in one
    call; return counts of sent, retried and dead."""
    counts = {"sent": 0, "retry": 0, "dead": 0}
    max_attempts = int(current_app.config["OUTBOX_MAX_ATTEMPTS"])
    for _ in range(limit):
        now = clock.now()
        row = db.session.scalar(
            select(OutboxEmail)
            .where(OutboxEmail.state == OutboxState.PENDING, OutboxEmail.send_after <= now)
            .order_by(OutboxEmail.send_after, OutboxEmail.id)
            .limit(1).with_for_update(skip_locked=True))
        if row is None:
            db.session.rollback()
            break
        row.attempts += 1
        try:
            send(build_message(row, render(row)))
        except (OSError, smtplib.SMTPException) as error:
            row.last_error = f"{type(error).__name__}: {error}"[:500]
            if row.attempts >= max_attempts:
                row.state = OutboxState.DEAD
                counts["dead"] += 1
            else:
                row.send_after = now + backoff(row.attempts)
                counts["retry"] += 1
        else:
            row.state = OutboxState.SENT
            row.sent_at = clock.now()
            row.last_error = None
            counts["sent"] += 1
        db.session.commit()  # this message's outcome, before the next one is sent
        if counts["retry"] or counts["dead"]:
            break  # the server is failing: leave the rest for the next round
    return counts


def retry_dead(row: OutboxEmail) -> None:
    """Staff send a dead e-mail again (after fixing the cause)."""
    row.state = OutboxState.PENDING
    row.attempts = 0
    row.send_after = clock.now()
