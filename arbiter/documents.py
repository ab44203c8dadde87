"""Decision documents: a number, a frozen snapshot of the decision, a PDF rendered once.

The number (``ARB/2026/000123`` for verdicts, ``POK/2026/000045`` for claims) is taken
from a per-year counter row in the same transaction as the decision: concurrent
decisions queue on that row, and a rolled-back decision gives its number back, so the
sequence has no gaps and never repeats. The data the PDF shows is stored as a plain dict
when the decision is made; the PDF is rendered from it after the commit, in the
background, stored once with its SHA-256 and never rendered again.
"""

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, mapped_column

from arbiter import audit, clock
from arbiter.db import Base, PrimaryKey, enum_type
from arbiter.extensions import db
from arbiter.money import format_money


class DecisionKind(StrEnum):
    VERDICT = "verdict"  # a staff verdict on an escalated discussion
    CLAIM = "claim"  # a protection-claim decision
    APPEAL = "appeal"  # the decision on an appeal against one of those


DECISION_OBJECT_TYPE = "decisions"  # audit entries "decision.issued" name the number
PREFIXES = {DecisionKind.VERDICT: "ARB", DecisionKind.CLAIM: "POK", DecisionKind.APPEAL: "ODW"}


class DecisionCounter(Base):
    __tablename__ = "decision_counters"

    prefix: Mapped[str] = mapped_column(String(8), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True)
    last_number: Mapped[int] = mapped_column(default=0)


class DecisionDocument(PrimaryKey, Base):
    """One language version of one decision's document."""

    __tablename__ = "decision_documents"
    __table_args__ = (
        Index("uq_decision_documents_number_locale", "number", "locale", unique=True),
        Index("ix_decision_documents_object", "object_type", "object_id"),
        Index("ix_decision_documents_pending", "id",
              sqlite_where=text("rendered_at IS NULL"),
              postgresql_where=text("rendered_at IS NULL")),
        CheckConstraint("(rendered_at IS NULL) = (sha256 IS NULL)", name="rendered_has_hash"),
        CheckConstraint("(rendered_at IS NULL) = (storage_key IS NULL)",
                        name="rendered_has_file"),
    )

    number: Mapped[str] = mapped_column(String(20), comment="e.g. ARB/2026/000123")
    kind: Mapped[DecisionKind] = mapped_column(enum_type(DecisionKind))
    locale: Mapped[str] = mapped_column(String(5))
    object_type: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[int] = mapped_column()
    issued_at: Mapped[datetime] = mapped_column()
    advisor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    data: Mapped[dict] = mapped_column(JSON, comment="frozen content the PDF shows")
    fingerprint: Mapped[str] = mapped_column(String(64), comment="SHA-256 of the data")
    storage_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    sha256: Mapped[str | None] = mapped_column(String(64), index=True,
                                               comment="SHA-256 of the PDF file")
    size: Mapped[int | None] = mapped_column()
    rendered_at: Mapped[datetime | None] = mapped_column()

    @property
    def filename(self) -> str:
        return f"{self.number.replace('/', '-')}-{self.locale}.pdf"


# object_type -> a function loading that object (which has ``can_view(user)``), so the
# download view can ask the owning package who may see a document; and the endpoint and
# argument of the object's own page, where the decision is shown.
OWNERS: dict = {}
PAGES: dict[str, tuple[str, str]] = {}


def register_owner(object_type: str, loader, *, page: tuple[str, str]) -> None:
    OWNERS[object_type] = loader
    PAGES[object_type] = page


@dataclass(frozen=True)
class Successor:
    """A later decision about the same case that reviewed this one: ``superseded`` when it
    changed the outcome, ``upheld`` when it confirmed it."""

    number: str
    effect: str  # "superseded" or "upheld"
    issued_at: datetime


# Functions answering the successors of a document (appeals register theirs), so the
# verify page can say a decision was superseded without this module knowing about appeals.
SUCCESSOR_FINDERS: list = []


def register_successors(find) -> None:
    if find not in SUCCESSOR_FINDERS:
        SUCCESSOR_FINDERS.append(find)


def successors(document: DecisionDocument) -> list[Successor]:
    return [found for find in SUCCESSOR_FINDERS for found in find(document)]


def page_of(document: DecisionDocument) -> str:
    """The address of the page of the case the document decides."""
    from flask import url_for

    endpoint, argument = PAGES[document.object_type]
    return url_for(endpoint, **{argument: document.object_id})


def can_download(document: DecisionDocument, user) -> bool:
    loader = OWNERS.get(document.object_type)
    owner = loader(document.object_id) if loader else None
    return owner is not None and owner.can_view(user)


def by_number(number: str, locale: str | None = None) -> DecisionDocument | None:
    statement = select(DecisionDocument).where(DecisionDocument.number == number)
    if locale:
        statement = statement.where(DecisionDocument.locale == locale)
    return db.session.scalars(statement.order_by(DecisionDocument.id)).first()


def _counter_insert(dialect: str):
    return pg_insert if dialect == "postgresql" else sqlite_insert


def next_number(kind: DecisionKind, at: datetime) -> str:
    """The next number of this kind for the (Warsaw) year of ``at``; gap-free."""
    prefix, year = PREFIXES[kind], clock.to_local(at).year
    insert = _counter_insert(db.session.get_bind().dialect.name)
    db.session.execute(insert(DecisionCounter).values(prefix=prefix, year=year, last_number=0)
                       .on_conflict_do_nothing())
    number = db.session.scalar(
        update(DecisionCounter)
        .where(DecisionCounter.prefix == prefix, DecisionCounter.year == year)
        .values(last_number=DecisionCounter.last_number + 1)
        .returning(DecisionCounter.last_number))
    return f"{prefix}/{year}/{number:06d}"


def fingerprint(data: dict) -> str:
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def issue(kind: DecisionKind, obj, *, advisor, issued_at: datetime,
          data_for_locale, locales: list[str]) -> list[DecisionDocument]:
    """Number a decision and freeze its documents; rendering is queued after the commit."""
    from arbiter.tasks import enqueue_after_commit, render_document

    number = next_number(kind, issued_at)
    documents = []
    for locale in locales:
        data = data_for_locale(locale, number)
        document = DecisionDocument(
            number=number, kind=kind, locale=locale, object_type=obj.__tablename__,
            object_id=obj.id, issued_at=issued_at, advisor_id=advisor.id, data=data,
            fingerprint=fingerprint(data))
        db.session.add(document)
        documents.append(document)
    db.session.flush()
    # A public entry (it names no one): the transparency log then proves to anyone holding
    # the document that this decision, with this content, was issued then and never changed.
    audit.record("decision.issued", obj, object_type=DECISION_OBJECT_TYPE, object_id=number,
                 after={"number": number, "kind": kind.value, "issued_at": issued_at,
                        "fingerprints": {d.locale: d.fingerprint for d in documents}})
    for document in documents:
        enqueue_after_commit(render_document, document.id)
    return documents


def render(document_id: int) -> DecisionDocument | None:
    """Render and store the PDF once; a document already rendered is left alone."""
    document = db.session.scalar(
        select(DecisionDocument).where(DecisionDocument.id == document_id)
        .with_for_update())
    if document is None or document.rendered_at is not None:
        db.session.rollback()
        return document
    render_into(document)
    db.session.commit()
    return document


def render_into(document: DecisionDocument, now: datetime | None = None) -> None:
    from flask_babel import force_locale

    from arbiter.files import store_blob
    from arbiter.pdf import render_pdf

    with force_locale(document.locale):
        pdf = render_pdf("pdf/decision.html", css="decision.css", d=document.data,
                         fingerprint=document.fingerprint, locale=document.locale,
                         operator=operator(), page_of_css=_page_of_css())
    blob = store_blob(pdf)
    document.storage_key = blob.key
    document.sha256 = blob.sha256
    document.size = blob.size
    document.rendered_at = now or clock.now()


def _page_of_css() -> str:
    """CSS ``content`` for the footer: "Page 2 of 3" in the current language, the numbers
    being WeasyPrint's page counters. The words are our own translation, never user text."""
    from flask_babel import gettext

    words = gettext("Page %(page)s of %(pages)s", page="\0", pages="\1")
    before, rest = words.split("\0")
    middle, after = rest.split("\1")
    quoted = [json.dumps(part, ensure_ascii=False) for part in (before, middle, after)]
    return f"{quoted[0]} counter(page) {quoted[1]} counter(pages) {quoted[2]}"


def operator() -> dict:
    """Who issues the decisions, for the letterhead: the settings at rendering time, which
    is right after the decision (a document is rendered once and never again)."""
    from flask import current_app

    config = current_app.config
    return {"name": config["OPERATOR_LEGAL_NAME"], "address": config["OPERATOR_ADDRESS"],
            "krs": config["OPERATOR_KRS"], "nip": config["OPERATOR_NIP"],
            "regon": config["OPERATOR_REGON"]}


def unrendered(now: datetime):
    """Documents whose rendering did not happen (a crashed worker): the sweeper retries."""
    from datetime import timedelta

    return (select(DecisionDocument)
            .where(DecisionDocument.rendered_at.is_(None),
                   DecisionDocument.issued_at <= now - timedelta(minutes=2))
            .order_by(DecisionDocument.id))


def documents_for(object_type: str, object_id: int) -> list[DecisionDocument]:
    return list(db.session.scalars(
        select(DecisionDocument)
        .where(DecisionDocument.object_type == object_type,
               DecisionDocument.object_id == object_id)
        .order_by(DecisionDocument.locale.desc())))


# What a reader may type or paste between the hex digits of a SHA-256: the PDF prints it in
# groups of 16 separated by spaces, a PDF viewer may turn those into line breaks or
# no-break spaces, and people write hashes with dashes, colons or dots.
_DIGEST_SEPARATORS = re.compile(r"[\s\-:._,;/\u200b\u2010-\u2015\ufeff]+")
_DIGEST = re.compile(r"[0-9a-f]{64}")


def normalise_digest(text: str) -> str | None:
    """A SHA-256 as typed or pasted (any spacing, case and separators) in the form stored,
    64 lower-case hex digits; None when it is not one. The one place that parses them."""
    digest = _DIGEST_SEPARATORS.sub("", text).lower()
    return digest if _DIGEST.fullmatch(digest) else None


def verify(number: str, digest: str) -> DecisionDocument | None:
    """The document with this number whose file (or content) has this SHA-256 (as pasted:
    :func:`normalise_digest`)."""
    digest = normalise_digest(digest)
    if digest is None:
        return None
    return db.session.scalar(
        select(DecisionDocument).where(
            DecisionDocument.number == number,
            (DecisionDocument.sha256 == digest) | (DecisionDocument.fingerprint == digest)))


# --- what every decision document shows ----------------------------------------------------


@dataclass(frozen=True)
class DecisionText:
    """Formats a decision's values in one language: call inside ``force_locale(locale)``.

    The parts every decision shows the same way (the order, the evidence, the verification
    address) are written once here; each kind of decision adds what it decided.
    """

    locale: str
    currency: str = "PLN"

    def money(self, minor: int) -> str:
        return format_money(minor, self.currency, self.locale)

    def when(self, value: datetime) -> str:
        from flask_babel import format_datetime

        return format_datetime(value, "medium")

    def order(self, order) -> dict:
        from orders.states import PAYMENT_METHOD_LABELS

        return {"external_id": order.external_id, "item": order.item_title,
                "price": self.money(order.item_price),
                "shipping": self.money(order.shipping_cost),
                "payment_method": str(PAYMENT_METHOD_LABELS[order.payment_method]),
                "paid_at": self.when(order.paid_at)}

    def evidence(self, files: Iterable) -> list[dict]:
        """Evidence files: name, who uploaded it and when, and its SHA-256."""
        return [{"name": file.filename, "by": file.uploaded_by.name,
                 "at": self.when(file.created_at), "sha256": file.sha256} for file in files]


def verify_url(number: str) -> str:
    """Where anyone checks that a document with this number is genuine."""
    from arbiter.urls import public_url

    return public_url("core.verify_decision", number=number)
