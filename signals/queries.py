"""The reads behind the abuse signals: one buyer's figures for the panel beside a claim or an
escalation, and every buyer's, ranked, for the staff page. Nothing here changes state.

One statement builds the figures of one buyer or of all of them (:func:`_figures`): the
panel and the ranking cannot disagree. The rules that make a figure strong are
``signals.policy.RULES``; :func:`_score` writes them as SQL so the database ranks and
keeps the top 50 without sending every buyer to Python.

Who holds which bank account is ``claims.banking.named_accounts``, the same definition the
payout hold uses (normalised in SQL, erased accounts matching nothing).
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    func,
    select,
    union,
)
from sqlalchemy.orm import joinedload

from accounts.models import User
from arbiter.extensions import db
from claims.banking import named_accounts
from claims.models import Claim
from claims.states import ClaimState, ClaimType
from disputes.models import Discussion
from disputes.states import Reason
from orders.models import Order
from signals.models import AccountNote
from signals.policy import (
    FIGURE_NAMES,
    RANKING_SIZE,
    RULES,
    Assessment,
    Figures,
    assess,
    window_start,
)

# How many notes the panel beside a case shows (the account page shows all).
PANEL_NOTES = 5


def _figures(since: datetime, buyer_id: int | None = None):
    """``(user_id, name, <every Figures field>)`` per buyer, as a subquery: one buyer's
    row, or (``buyer_id`` None) the row of every buyer with a claim or a discussion in the
    window or an account another buyer named."""

    def only(column) -> list:
        return [] if buyer_id is None else [column == buyer_id]

    claims = (
        select(Claim.buyer_id.label("buyer_id"),
               func.count(Claim.id).label("claims"),
               func.count(Claim.id).filter(Claim.state == ClaimState.REJECTED)
               .label("rejected_claims"),
               func.count(Claim.id).filter(Claim.claim_type == ClaimType.NOT_RECEIVED,
                                           Order.delivered_at.is_not(None))
               .label("not_received_claims_on_delivered"))
        .join(Order, Order.id == Claim.order_id)
        .where(Claim.submitted_at >= since, *only(Claim.buyer_id))
        .group_by(Claim.buyer_id).cte("signal_claims"))
    discussions = (
        select(Discussion.buyer_id.label("buyer_id"),
               func.count(Discussion.id).label("discussions"),
               func.count(Discussion.id).filter(Discussion.reason == Reason.NOT_RECEIVED,
                                                Order.delivered_at.is_not(None))
               .label("not_received_discussions_on_delivered"))
        .join(Order, Order.id == Discussion.order_id)
        .where(Discussion.opened_at >= since, *only(Discussion.buyer_id))
        .group_by(Discussion.buyer_id).cte("signal_discussions"))
    accounts = named_accounts()
    mine, theirs = accounts.alias("mine"), accounts.alias("theirs")
    shared = (
        select(mine.c.buyer_id.label("buyer_id"),
               func.count(theirs.c.buyer_id.distinct()).label("other_buyers"))
        .join(theirs, and_(theirs.c.account == mine.c.account,
                           theirs.c.buyer_id != mine.c.buyer_id))
        .where(*only(mine.c.buyer_id))
        .group_by(mine.c.buyer_id).cte("signal_shared"))
    if buyer_id is None:
        candidates = union(select(claims.c.buyer_id), select(discussions.c.buyer_id),
                           select(shared.c.buyer_id)).subquery("candidates")
        chosen = User.id.in_(select(candidates.c.buyer_id))
        orders_of = Order.buyer_id.in_(select(candidates.c.buyer_id))
    else:
        chosen = User.id == buyer_id
        orders_of = Order.buyer_id == buyer_id
    orders = (select(Order.buyer_id.label("buyer_id"), func.count(Order.id).label("orders"))
              .where(Order.paid_at >= since, orders_of)
              .group_by(Order.buyer_id).cte("signal_orders"))
    columns = {"orders": orders.c.orders, "claims": claims.c.claims,
               "discussions": discussions.c.discussions,
               "rejected_claims": claims.c.rejected_claims,
               "not_received_claims_on_delivered": claims.c.not_received_claims_on_delivered,
               "not_received_discussions_on_delivered":
                   discussions.c.not_received_discussions_on_delivered,
               "other_buyers": shared.c.other_buyers}
    assert set(columns) == set(FIGURE_NAMES)
    return (
        select(User.id.label("user_id"), User.name.label("name"),
               *[func.coalesce(columns[name], 0).label(name) for name in FIGURE_NAMES])
        .select_from(User)
        .outerjoin(orders, orders.c.buyer_id == User.id)
        .outerjoin(claims, claims.c.buyer_id == User.id)
        .outerjoin(discussions, discussions.c.buyer_id == User.id)
        .outerjoin(shared, shared.c.buyer_id == User.id)
        .where(chosen)
        .subquery("figures"))


def _score(figures) -> ColumnElement[int]:
    """``signals.policy.score_of(assess(...).strong)`` in SQL, rule by rule."""
    terms = []
    for rule in RULES:
        value = figures.c[rule.figure]
        strong = value >= rule.at_least
        if rule.share_above_percent is not None:
            strong = and_(strong, value * 100 > rule.share_above_percent * figures.c.orders)
        terms.append(case((strong, rule.weight), else_=0))
    return sum(terms[1:], terms[0])


def _figures_of(row) -> Figures:
    return Figures(**{name: int(getattr(row, name)) for name in FIGURE_NAMES})


# --- one buyer -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SharedAccount:
    account: str          # normalised IBAN
    user_id: int          # the other buyer
    name: str


@dataclass(frozen=True)
class BuyerSignals:
    user_id: int
    name: str
    since: datetime
    assessment: Assessment
    shared_accounts: list[SharedAccount]
    notes: list[AccountNote]

    @property
    def figures(self) -> Figures:
        return self.assessment.figures

    @property
    def accounts_shared(self) -> dict[str, list[SharedAccount]]:
        """The shared accounts, each with the other buyers who named it."""
        grouped: dict[str, list[SharedAccount]] = defaultdict(list)
        for shared in self.shared_accounts:
            grouped[shared.account].append(shared)
        return dict(grouped)


def buyer_signals(buyer_id: int, now: datetime, *, notes: int | None = PANEL_NOTES
                  ) -> BuyerSignals | None:
    """One buyer's signals in three statements (figures, the other buyers sharing a bank
    account, the staff notes), or None for nobody. ``notes=None``: every note."""
    since = window_start(now)
    row = db.session.execute(select(_figures(since, buyer_id))).one_or_none()
    if row is None:
        return None
    return BuyerSignals(user_id=row.user_id, name=row.name, since=since,
                        assessment=assess(_figures_of(row)),
                        shared_accounts=buyers_sharing_accounts_with(buyer_id),
                        notes=notes_about(buyer_id, limit=notes))


def buyers_sharing_accounts_with(buyer_id: int) -> list[SharedAccount]:
    """Other people whose claims or payouts name a bank account this buyer's claims or
    payouts name (normalised), by account then by person.

    The payout hold (claims.banking.account_owners) asks the same of named_accounts for
    the accounts of a page of payouts.
    """
    accounts = named_accounts()
    mine, theirs = accounts.alias("mine"), accounts.alias("theirs")
    rows = db.session.execute(
        select(theirs.c.account, User.id, User.name).distinct()
        .select_from(mine)
        .join(theirs, and_(theirs.c.account == mine.c.account,
                           theirs.c.buyer_id != mine.c.buyer_id))
        .join(User, User.id == theirs.c.buyer_id)
        .where(mine.c.buyer_id == buyer_id)
        .order_by(theirs.c.account, User.id))
    return [SharedAccount(account, user_id, name) for account, user_id, name in rows]


def _with_author():
    """A note's author comes in the same statement; their staff roles (which
    ``User.role_grants`` would read in one more) are not needed to show a name."""
    return joinedload(AccountNote.author).lazyload(User.role_grants)


def notes_about(user_id: int, *, limit: int | None = None) -> list[AccountNote]:
    """Staff notes about an account, newest first, with their authors."""
    statement = (select(AccountNote).where(AccountNote.user_id == user_id)
                 .options(_with_author())
                 .order_by(AccountNote.created_at.desc(), AccountNote.id.desc()))
    if limit is not None:
        statement = statement.limit(limit)
    return list(db.session.scalars(statement))


# --- the ranking -------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseLink:
    kind: str             # "claim" or "discussion"
    id: int
    state: str
    problem: str          # claim type or discussion reason
    order_external_id: str
    delivered: bool


@dataclass
class RankedAccount:
    user_id: int
    name: str
    assessment: Assessment
    cases: list[CaseLink] = field(default_factory=list)
    latest_note: AccountNote | None = None

    @property
    def figures(self) -> Figures:
        return self.assessment.figures


def strongest(now: datetime, viewer_id: int, *, limit: int = RANKING_SIZE
              ) -> list[RankedAccount]:
    """The accounts with the strongest signals, best first (``signals.policy.ranking_key``),
    only those with at least one strong signal, never the viewer's own; each with its
    cases of the window and its latest note. Four statements, whatever the number of
    buyers, cases or notes."""
    since = window_start(now)
    figures = _figures(since)
    score = _score(figures).label("score")
    rows = db.session.execute(
        select(figures, score).where(score > 0, figures.c.user_id != viewer_id)
        .order_by(score.desc(), figures.c.claims.desc(), figures.c.discussions.desc(),
                  figures.c.user_id)
        .limit(limit)).all()
    ranked = [RankedAccount(row.user_id, row.name, assess(_figures_of(row))) for row in rows]
    by_id = {account.user_id: account for account in ranked}
    if not by_id:
        return ranked
    for link, buyer_id in _cases(list(by_id), since):
        by_id[buyer_id].cases.append(link)
    for note in _latest_notes(list(by_id)):
        by_id[note.user_id].latest_note = note
    return ranked


def cases_of(buyer_id: int, since: datetime) -> list[CaseLink]:
    return [link for link, _ in _cases([buyer_id], since)]


def _cases(buyer_ids: list[int], since: datetime) -> list[tuple[CaseLink, int]]:
    """The claims and discussions of these buyers in the window, newest first (claims
    before discussions)."""
    claims = db.session.execute(
        select(Claim.id, Claim.buyer_id, Claim.state, Claim.claim_type, Order.external_id,
               Order.delivered_at)
        .join(Order, Order.id == Claim.order_id)
        .where(Claim.buyer_id.in_(buyer_ids), Claim.submitted_at >= since)
        .order_by(Claim.submitted_at.desc(), Claim.id.desc()))
    discussions = db.session.execute(
        select(Discussion.id, Discussion.buyer_id, Discussion.state, Discussion.reason,
               Order.external_id, Order.delivered_at)
        .join(Order, Order.id == Discussion.order_id)
        .where(Discussion.buyer_id.in_(buyer_ids), Discussion.opened_at >= since)
        .order_by(Discussion.opened_at.desc(), Discussion.id.desc()))
    links = [(CaseLink("claim", i, str(state), str(kind), external, delivered is not None),
              buyer) for i, buyer, state, kind, external, delivered in claims]
    links += [(CaseLink("discussion", i, str(state), str(reason), external,
                        delivered is not None), buyer)
              for i, buyer, state, reason, external, delivered in discussions]
    return links


def _latest_notes(user_ids: list[int]) -> list[AccountNote]:
    newest = (select(AccountNote.user_id, func.max(AccountNote.id).label("id"))
              .where(AccountNote.user_id.in_(user_ids))
              .group_by(AccountNote.user_id).subquery())
    return list(db.session.scalars(
        select(AccountNote).join(newest, newest.c.id == AccountNote.id)
        .options(_with_author())))
