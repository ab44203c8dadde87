"""Pure rules about orders and the people on them: no database, no Flask.

An order is one case: its discussions, verdicts, claims, payouts and (later) appeals all
belong to it, and so do its two parties, the buyer and the seller.
"""


def conflicted(user, case) -> bool:
    """Is ``user`` the buyer or the seller of ``case``?

    Staff buy and sell on the marketplace like anybody else, and on a case of their own they
    act as a party, never as staff: they do not take it, ask for information or documents,
    decide it, review an appeal of it, or approve or release its payout, and the staff
    queues do not offer it to them. ``case`` is anything that carries the order's parties
    (``buyer_id`` and ``seller_id``): an order, a discussion, a claim, a request, a payout.
    The database holds the same rule as CHECK constraints on those rows (migration 0013).
    """
    user_id = getattr(user, "id", None)
    return user_id is not None and user_id in (case.buyer_id, case.seller_id)
