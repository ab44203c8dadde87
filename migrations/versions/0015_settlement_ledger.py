"""the settlement ledger: one case per order, and the money it moved

Every money outcome of an order becomes a row of ``settlements`` (see settlements/), and
``orders.compensation_committed`` carries what is owed or paid to the buyer, with a CHECK
against the order total. Discussions get two states: ``awaiting_fulfilment`` (an accepted
offer waits to be kept; it is not ended, so it joins the one-open-discussion index and the
seller's inbox) and ``settled_by_platform`` (a claim was approved).

What exists moves into the ledger:
- accepted offers as ``confirmed`` (they ended as "resolved" before this change);
- verdicts that granted an amount as ``owed``, due 14 days after the verdict;
- approved claims as their ``owed`` payout; paid claims as a ``confirmed`` payout and the
  ``owed`` recovery from the seller.
An outcome that, with the order's earlier ones, would exceed the order total (money was
promised twice before this change) is recorded ``cancelled`` with a note saying so, and
listed in the log: the invariant holds, and nothing is lost from the record.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 19:00:00.000000

"""
import logging

import sqlalchemy as sa
from alembic import op

import arbiter.db  # noqa: F401 - custom column types

# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

log = logging.getLogger('alembic.runtime.migration')

OLD_STATES = ('awaiting_seller', 'in_progress', 'escalated', 'resolved', 'decided', 'closed')
NEW_STATES = ('awaiting_seller', 'in_progress', 'escalated', 'awaiting_fulfilment', 'resolved',
              'decided', 'closed', 'settled_by_platform')
OLD_OPEN = "state IN ('awaiting_seller', 'escalated', 'in_progress')"
NEW_OPEN = "state IN ('awaiting_fulfilment', 'awaiting_seller', 'escalated', 'in_progress')"
OLD_CLOSED = "state <> 'closed' OR closed_at IS NOT NULL"
NEW_CLOSED = "state NOT IN ('closed', 'settled_by_platform') OR closed_at IS NOT NULL"
COMPENSATION_CHECK = ('compensation_committed >= 0 AND '
                      'compensation_committed <= item_price + shipping_cost')
ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def _discussion_states(states, open_states, closed_check):
    """The discussions' state CHECK, their closed CHECK and the two indexes of open ones."""
    with op.batch_alter_table('discussions', schema=None) as batch_op:
        batch_op.drop_index('uq_discussions_order_open')
        batch_op.drop_index('ix_discussions_seller_inbox_open')
        batch_op.drop_constraint(op.f('ck_discussions_discussionstate'), type_='check')
        batch_op.drop_constraint(op.f('ck_discussions_closed_has_closed_at'), type_='check')
    with op.batch_alter_table('discussions', schema=None) as batch_op:
        batch_op.create_check_constraint(
            op.f('ck_discussions_discussionstate'),
            'state IN ({})'.format(', '.join(f"'{state}'" for state in states)))
        batch_op.create_check_constraint(op.f('ck_discussions_closed_has_closed_at'),
                                         closed_check)
        where = sa.text(open_states)
        batch_op.create_index('uq_discussions_order_open', ['order_id'], unique=True,
                              sqlite_where=where, postgresql_where=where)
        batch_op.create_index('ix_discussions_seller_inbox_open',
                              ['seller_id', 'respond_by', 'id'], unique=False,
                              sqlite_where=where, postgresql_where=where)


def _plus_days(column, days):
    """``column`` + ``days`` days, in the engine's SQL (SQLite keeps the microseconds)."""
    if op.get_bind().dialect.name == 'sqlite':
        return f"(datetime({column}, '+{days} days') || substr({column}, 20))"
    return f"({column} + interval '{days} days')"


_COLUMNS = ('order_id, buyer_id, seller_id, kind, payer, payee, amount, currency, source, '
            'discussion_id, offer_id, claim_id, state, created_at, due_at, ship_by, '
            'settled_at, settled_via, settled_by_id')


def _move_existing_outcomes():
    accepted_at = 'COALESCE(f.answered_at, f.created_at)'
    goods = "f.kind IN ('replacement', 'repair')"
    # accepted offers: confirmed, as they ended resolved
    op.execute(f"""
        INSERT INTO settlements ({_COLUMNS})
        SELECT o.id, o.buyer_id, o.seller_id, f.kind, 'seller', 'buyer',
               CASE WHEN {goods} THEN NULL
                    ELSE COALESCE(f.amount, o.item_price + o.shipping_cost) END,
               o.currency, 'offer', d.id, f.id, NULL, 'confirmed', {accepted_at},
               CASE WHEN {goods} THEN {_plus_days(accepted_at, 21)}
                    ELSE {_plus_days(accepted_at, 7)} END,
               CASE WHEN {goods} THEN {_plus_days(accepted_at, 7)} ELSE NULL END,
               COALESCE(d.resolved_at, {accepted_at}), 'buyer', d.buyer_id
        FROM offers f JOIN discussions d ON d.id = f.discussion_id
        JOIN orders o ON o.id = d.order_id
        WHERE f.state = 'accepted'""")
    # verdicts that granted money: owed, due 14 days after the verdict
    op.execute(f"""
        INSERT INTO settlements ({_COLUMNS})
        SELECT o.id, o.buyer_id, o.seller_id, 'verdict', 'seller', 'buyer', d.refund_amount,
               o.currency, 'verdict', d.id, NULL, NULL, 'owed', d.decided_at,
               {_plus_days('d.decided_at', 14)}, NULL, NULL, NULL, NULL
        FROM discussions d JOIN orders o ON o.id = d.order_id
        WHERE d.state = 'decided' AND d.refund_amount > 0""")
    # claims decided in the buyer's favour: their payout; paid ones also the recovery
    op.execute(f"""
        INSERT INTO settlements ({_COLUMNS})
        SELECT o.id, o.buyer_id, o.seller_id, 'payout', 'platform', 'buyer', c.approved_amount,
               o.currency, 'claim', c.discussion_id, NULL, c.id,
               CASE WHEN c.state = 'paid' THEN 'confirmed' ELSE 'owed' END, c.decided_at,
               {_plus_days('c.decided_at', 7)}, NULL,
               CASE WHEN c.state = 'paid' THEN c.paid_at ELSE NULL END,
               CASE WHEN c.state = 'paid' THEN 'finance' ELSE NULL END,
               p.marked_paid_by_id
        FROM claims c JOIN orders o ON o.id = c.order_id
        LEFT JOIN payouts p ON p.claim_id = c.id
        WHERE c.state IN ('approved', 'partially_approved', 'paid')""")
    op.execute(f"""
        INSERT INTO settlements ({_COLUMNS})
        SELECT o.id, o.buyer_id, o.seller_id, 'recovery', 'seller', 'platform',
               c.approved_amount, o.currency, 'claim', c.discussion_id, NULL, c.id, 'owed',
               c.paid_at, {_plus_days('c.paid_at', 14)}, NULL, NULL, NULL, NULL
        FROM claims c JOIN orders o ON o.id = c.order_id WHERE c.state = 'paid'""")
    _cancel_what_exceeds_the_total()
    op.execute("""
        UPDATE orders SET compensation_committed = (
            SELECT COALESCE(SUM(s.amount), 0) FROM settlements s
            WHERE s.order_id = orders.id AND s.payee = 'buyer' AND s.amount IS NOT NULL
              AND s.state IN ('owed', 'confirmed'))
        WHERE id IN (SELECT order_id FROM settlements)""")


# Per order, the earliest outcome (by time) with which the outcomes that still count
# exceed the order total: amounts are positive, so the running sum only grows.
_EARLIEST_OVER = """
    SELECT id FROM (
        SELECT id, ROW_NUMBER() OVER (PARTITION BY order_id ORDER BY created_at, id) AS nth
        FROM (
            SELECT s.id, s.order_id, s.created_at, o.item_price + o.shipping_cost AS total,
                   SUM(s.amount) OVER (PARTITION BY s.order_id
                                       ORDER BY s.created_at, s.id) AS running
            FROM settlements s JOIN orders o ON o.id = s.order_id
            WHERE s.payee = 'buyer' AND s.amount IS NOT NULL
              AND s.state IN ('owed', 'confirmed')) AS counted
        WHERE running > total) AS over_total
    WHERE nth = 1"""
_CANCELLED_NOTE = ('Migration 0015: with earlier outcomes this exceeded the order total; '
                   'review it.')


def _cancel_what_exceeds_the_total():
    """Greedy, in time order: an outcome is cancelled when, with the order's earlier
    outcomes that still count, it would exceed the order total. Each pass cancels the
    first such outcome of every order; the next pass sums without it, so a later outcome
    that fits is kept. Passes: the most outcomes one order had beyond its total, plus one."""
    bind = op.get_bind()
    cancelled = 0
    while True:
        done = bind.execute(sa.text(f"""
            UPDATE settlements SET state = 'cancelled',
                   settled_at = COALESCE(settled_at, created_at),
                   settled_via = COALESCE(settled_via, 'platform'),
                   note = :note
            WHERE id IN ({_EARLIEST_OVER})"""), {"note": _CANCELLED_NOTE}).rowcount
        if not done:
            break
        cancelled += done
    if cancelled:
        ids = bind.execute(sa.text(
            "SELECT id FROM settlements WHERE state = 'cancelled' AND note = :note "
            "ORDER BY id LIMIT 200"), {"note": _CANCELLED_NOTE}).scalars().all()
        log.warning("0015: %d outcomes exceeded their order's total together with earlier "
                    "ones and are recorded cancelled for review: settlements %s%s",
                    cancelled, ids, " ..." if cancelled > len(ids) else "")


def upgrade():
    _discussion_states(NEW_STATES, NEW_OPEN, NEW_CLOSED)
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            'compensation_committed', ID, server_default='0', nullable=False,
            comment='grosze owed or paid to the buyer by settlement rows (owed or confirmed)'))
    op.create_table('settlements',
    sa.Column('order_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('buyer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False, comment='= order.buyer_id'),
    sa.Column('seller_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False, comment='= order.seller_id'),
    sa.Column('kind', sa.Enum('refund', 'partial_refund', 'verdict', 'payout', 'recovery', 'replacement', 'repair', name='settlementkind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('payer', sa.Enum('buyer', 'seller', 'platform', name='payer', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('payee', sa.Enum('buyer', 'seller', 'platform', name='payee', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('amount', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True, comment='grosze; NULL for goods'),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('source', sa.Enum('offer', 'verdict', 'claim', name='settlementsource', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('discussion_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True, comment='The discussion of the offer or verdict; for claims the one it rests on'),
    sa.Column('offer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('claim_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('state', sa.Enum('owed', 'confirmed', 'failed', 'cancelled', name='settlementstate', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('created_at', arbiter.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('due_at', arbiter.db.UTCDateTime(timezone=True), nullable=False, comment='When it must have arrived'),
    sa.Column('ship_by', arbiter.db.UTCDateTime(timezone=True), nullable=True, comment='Goods: when the tracking reference is due'),
    sa.Column('proof_reference', sa.String(length=200), nullable=True, comment="The seller's transfer confirmation or tracking number"),
    sa.Column('proof_at', arbiter.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('overdue_notified_at', arbiter.db.UTCDateTime(timezone=True), nullable=True, comment='When the buyer was asked whether it arrived, after the due date'),
    sa.Column('settled_at', arbiter.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('settled_via', sa.Enum('buyer', 'marketplace', 'seller_proof', 'finance', 'deadline', 'platform', name='settledvia', native_enum=False, create_constraint=True, length=32), nullable=True),
    sa.Column('settled_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True, comment='The person who confirmed or failed it, if a person'),
    sa.Column('note', sa.Text(), nullable=True, comment='Why it failed or was cancelled'),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.CheckConstraint("(kind = 'refund' AND payer = 'seller' AND payee = 'buyer' AND source = 'offer') OR (kind = 'partial_refund' AND payer = 'seller' AND payee = 'buyer' AND source = 'offer') OR (kind = 'replacement' AND payer = 'seller' AND payee = 'buyer' AND source = 'offer') OR (kind = 'repair' AND payer = 'seller' AND payee = 'buyer' AND source = 'offer') OR (kind = 'verdict' AND payer = 'seller' AND payee = 'buyer' AND source = 'verdict') OR (kind = 'payout' AND payer = 'platform' AND payee = 'buyer' AND source = 'claim') OR (kind = 'recovery' AND payer = 'seller' AND payee = 'platform' AND source = 'claim')", name=op.f('ck_settlements_kind_names_its_parties')),
    sa.CheckConstraint("(kind IN ('repair', 'replacement')) = (amount IS NULL)", name=op.f('ck_settlements_amount_iff_money')),
    sa.CheckConstraint("(source = 'claim') = (claim_id IS NOT NULL)", name=op.f('ck_settlements_claim_iff_source')),
    sa.CheckConstraint("(source = 'offer') = (offer_id IS NOT NULL)", name=op.f('ck_settlements_offer_iff_source')),
    sa.CheckConstraint("(state = 'owed') = (settled_at IS NULL)", name=op.f('ck_settlements_settled_iff_not_owed')),
    sa.CheckConstraint("source <> 'verdict' OR discussion_id IS NOT NULL", name=op.f('ck_settlements_verdict_has_discussion')),
    sa.CheckConstraint('(proof_at IS NULL) = (proof_reference IS NULL)', name=op.f('ck_settlements_proof_has_reference')),
    sa.CheckConstraint('(settled_at IS NULL) = (settled_via IS NULL)', name=op.f('ck_settlements_settled_says_how')),
    sa.CheckConstraint('amount IS NULL OR amount > 0', name=op.f('ck_settlements_amount_positive')),
    sa.CheckConstraint('due_at > created_at', name=op.f('ck_settlements_due_after_creation')),
    sa.CheckConstraint('ship_by IS NULL OR ship_by <= due_at', name=op.f('ck_settlements_ship_before_due')),
    sa.ForeignKeyConstraint(['buyer_id'], ['users.id'], name=op.f('fk_settlements_buyer_id_users')),
    sa.ForeignKeyConstraint(['claim_id'], ['claims.id'], name=op.f('fk_settlements_claim_id_claims')),
    sa.ForeignKeyConstraint(['discussion_id'], ['discussions.id'], name=op.f('fk_settlements_discussion_id_discussions')),
    sa.ForeignKeyConstraint(['offer_id'], ['offers.id'], name=op.f('fk_settlements_offer_id_offers')),
    sa.ForeignKeyConstraint(['order_id', 'buyer_id', 'seller_id'], ['orders.id', 'orders.buyer_id', 'orders.seller_id'], name='fk_settlements_order_parties'),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_settlements_order_id_orders')),
    sa.ForeignKeyConstraint(['seller_id'], ['users.id'], name=op.f('fk_settlements_seller_id_users')),
    sa.ForeignKeyConstraint(['settled_by_id'], ['users.id'], name=op.f('fk_settlements_settled_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_settlements'))
    )
    with op.batch_alter_table('settlements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_settlements_discussion_id'), ['discussion_id'], unique=False)
        batch_op.create_index('ix_settlements_order', ['order_id', 'id'], unique=False)
        batch_op.create_index('ix_settlements_owed_due', ['due_at'], unique=False, sqlite_where=sa.text("state = 'owed'"), postgresql_where=sa.text("state = 'owed'"))
        batch_op.create_index('uq_settlements_claim_kind', ['claim_id', 'kind'], unique=True, sqlite_where=sa.text('claim_id IS NOT NULL'), postgresql_where=sa.text('claim_id IS NOT NULL'))
        batch_op.create_index('uq_settlements_offer', ['offer_id'], unique=True, sqlite_where=sa.text('offer_id IS NOT NULL'), postgresql_where=sa.text('offer_id IS NOT NULL'))
        batch_op.create_index('uq_settlements_verdict', ['discussion_id'], unique=True, sqlite_where=sa.text("source = 'verdict'"), postgresql_where=sa.text("source = 'verdict'"))

    _move_existing_outcomes()
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_check_constraint(op.f('ck_orders_compensation_within_total'),
                                         COMPENSATION_CHECK)


def downgrade():
    # The older schema ended a discussion at once when an offer was accepted, and knew
    # no platform settlement: those discussions become resolved and closed.
    op.execute("UPDATE discussions SET state = 'resolved', resolved_at = COALESCE("
               "resolved_at, last_activity_at) WHERE state = 'awaiting_fulfilment'")
    op.execute("UPDATE discussions SET state = 'closed' WHERE state = 'settled_by_platform'")
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_orders_compensation_within_total'), type_='check')
        batch_op.drop_column('compensation_committed')

    with op.batch_alter_table('settlements', schema=None) as batch_op:
        batch_op.drop_index('uq_settlements_verdict', sqlite_where=sa.text("source = 'verdict'"), postgresql_where=sa.text("source = 'verdict'"))
        batch_op.drop_index('uq_settlements_offer', sqlite_where=sa.text('offer_id IS NOT NULL'), postgresql_where=sa.text('offer_id IS NOT NULL'))
        batch_op.drop_index('uq_settlements_claim_kind', sqlite_where=sa.text('claim_id IS NOT NULL'), postgresql_where=sa.text('claim_id IS NOT NULL'))
        batch_op.drop_index('ix_settlements_owed_due', sqlite_where=sa.text("state = 'owed'"), postgresql_where=sa.text("state = 'owed'"))
        batch_op.drop_index('ix_settlements_order')
        batch_op.drop_index(batch_op.f('ix_settlements_discussion_id'))

    op.drop_table('settlements')
    _discussion_states(OLD_STATES, OLD_OPEN, OLD_CLOSED)
