"""Settlement rows in a data export and in account deletion.

The export holds the rows of the person's orders, as the buyer or the seller
(settlements.json): what was owed, by whom, how much, by when and how it ended. It names
no other person: who settled a row is "you", "someone else" or nobody (the marketplace, a
deadline), and the buyer's payout account is not on these rows at all (claims.json holds
it, in the buyer's own export only).

A deletion keeps every row: they are money records of the order. It is refused while a
seller still owes something on the person's orders (a promise to the buyer, a verdict's
amount, a recovery of a paid claim): the debt must be settled first.
"""

from flask_babel import ngettext
from sqlalchemy import func, or_, select

from accounts.models import User
from accounts.personal_data import Archive, amount, register
from arbiter.extensions import db
from settlements.models import Settlement
from settlements.states import Party, SettlementState


def _party(user: User):
    return or_(Settlement.buyer_id == user.id, Settlement.seller_id == user.id)


def _settled_by(row: Settlement, user: User) -> str | None:
    if row.settled_by_id is None:
        return None
    return "you" if row.settled_by_id == user.id else "someone else"


def export(archive: Archive) -> None:
    user = archive.user
    rows = db.session.scalars(
        select(Settlement).where(_party(user)).order_by(Settlement.created_at, Settlement.id))
    result = []
    for row in rows:
        result.append({
            "id": row.id, "order": row.order.external_id,
            "your_role": "buyer" if row.buyer_id == user.id else "seller",
            "kind": row.kind, "payer": row.payer, "payee": row.payee,
            "amount": amount(row.amount), "currency": row.currency, "source": row.source,
            "discussion_id": row.discussion_id, "claim_id": row.claim_id,
            "state": row.state, "created_at": row.created_at, "due_at": row.due_at,
            "ship_by": row.ship_by, "proof_reference": row.proof_reference,
            "proof_at": row.proof_at, "settled_at": row.settled_at,
            "settled_via": row.settled_via, "settled_by": _settled_by(row, user),
            "note": row.note,
        })
    archive.add("settlements.json", result)
    archive.own("settlements", "settlement", select(Settlement.id).where(_party(user)))


def _seller_owes(user: User):
    """Rows a seller still owes, on the person's purchases or sales."""
    return (Settlement.state == SettlementState.OWED, Settlement.payer == Party.SELLER,
            _party(user))


def blockers(user: User) -> list[str]:
    count = db.session.scalar(select(func.count(Settlement.id)).where(*_seller_owes(user))) or 0
    if not count:
        return []
    return [ngettext(
        "A seller still owes %(num)d settlement on your orders. Wait until it is confirmed "
        "or reported as not fulfilled before deleting your account.",
        "A seller still owes %(num)d settlements on your orders. Wait until they are "
        "confirmed or reported as not fulfilled before deleting your account.", count)]


register("settlements", export=export, blockers=blockers)
