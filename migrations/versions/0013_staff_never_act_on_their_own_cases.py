"""staff never act on their own cases: the parties on every row where staff act

Staff buy and sell on the marketplace too. Issue 25 (item 1): an advisor took the
discussion about their own purchase and granted themselves a full refund; another, as the
seller, rejected a claim against their own sale. From here on the database refuses it,
whatever the code above it does:

- a discussion's and a claim's advisor and decider are neither its buyer nor its seller
  (CHECK ``advisor_not_a_party``, ``decider_not_a_party``);
- information and document requests carry the case's parties, and their requester is
  neither (CHECK ``requester_not_a_party``);
- a payout carries its claim's parties and who exported and who confirmed it, and neither
  is a party (CHECK ``exporter_not_a_party``, ``marker_not_a_party``; the copies must be
  there once batched or paid: ``exported_by_iff_batched``, ``marked_paid_by_iff_paid``).

Copies of the parties are only worth checking if they are the order's, so each copy is part
of a composite foreign key to the row it was copied from: discussions and claims to
``orders (id, buyer_id, seller_id)``, information requests to discussions, document
requests and payouts to claims, and a payout's exporter and confirmer to its batch. Each
referred-to triple has a unique index (``uq_*_parties``, ``uq_payout_batches_*``). Claims
gain ``seller_id``; every new column is backfilled here from the row it copies.

An order's buyer and seller can then no longer change once a discussion exists (the order
upsert refuses it with 409 ``order_parties_fixed``): the case's evidence and the claim's
payout account belong to the buyer who opened it.

Rows that already break the rule (or whose parties differ from their order's) are not
rewritten: a decision is a record. The upgrade stops before changing anything and names
them, and somebody decides what happens to those cases first.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 09:00:00.000000

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
PARTIES = ['buyer_id', 'seller_id']

# Rows the new constraints would refuse, with the order's parties as the truth.
_BREAKING = {
    'discussions': """
        SELECT d.id FROM discussions d JOIN orders o ON o.id = d.order_id
        WHERE d.buyer_id <> o.buyer_id OR d.seller_id <> o.seller_id
           OR d.assigned_staff_id IN (o.buyer_id, o.seller_id)
           OR d.decided_by_id IN (o.buyer_id, o.seller_id)""",
    'claims': """
        SELECT c.id FROM claims c JOIN orders o ON o.id = c.order_id
        WHERE c.buyer_id <> o.buyer_id
           OR c.assigned_staff_id IN (o.buyer_id, o.seller_id)
           OR c.decided_by_id IN (o.buyer_id, o.seller_id)""",
    'information_requests': """
        SELECT r.id FROM information_requests r
        JOIN discussions d ON d.id = r.discussion_id JOIN orders o ON o.id = d.order_id
        WHERE r.requested_by_id IN (o.buyer_id, o.seller_id)""",
    'document_requests': """
        SELECT r.id FROM document_requests r
        JOIN claims c ON c.id = r.claim_id JOIN orders o ON o.id = c.order_id
        WHERE r.requested_by_id IN (o.buyer_id, o.seller_id)""",
    'payouts': """
        SELECT p.id FROM payouts p
        JOIN claims c ON c.id = p.claim_id JOIN orders o ON o.id = c.order_id
        JOIN payout_batches b ON b.id = p.batch_id
        WHERE b.created_by_id IN (o.buyer_id, o.seller_id)
           OR (p.state = 'paid' AND b.marked_paid_by_id IN (o.buyer_id, o.seller_id))""",
}


def _refuse_breaking_rows():
    connection = op.get_bind()
    found = {}
    for table, query in _BREAKING.items():
        ids = connection.execute(sa.text(query + " ORDER BY 1")).scalars().all()
        if ids:
            found[table] = ids
    if found:
        listed = "; ".join(f"{table} {ids[:50]}{' ...' if len(ids) > 50 else ''}"
                           for table, ids in found.items())
        raise RuntimeError(
            "Migration 0013 changed nothing: these rows have staff acting on a case they "
            "are the buyer or the seller of, or parties that differ from their order's, "
            f"and the new constraints would refuse them: {listed}. Decide what happens to "
            "those cases, then run the migration again.")


def _not_a_party(column):
    return f"{column} <> buyer_id AND {column} <> seller_id"


def _add_parties(table, source, key, comment):
    """Add buyer_id and seller_id to ``table``, copied from ``source`` through ``key``."""
    with op.batch_alter_table(table, schema=None) as batch_op:
        for party in PARTIES:
            batch_op.add_column(sa.Column(party, ID, nullable=True,
                                          comment=f'= {comment}.{party}'))
    for party in PARTIES:
        op.execute(f"UPDATE {table} SET {party} = (SELECT {source}.{party} FROM {source} "
                   f"WHERE {source}.id = {table}.{key})")


def upgrade():
    _refuse_breaking_rows()

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index('uq_orders_parties', ['id', 'buyer_id', 'seller_id'], unique=True)

    with op.batch_alter_table('discussions', schema=None) as batch_op:
        batch_op.create_index('uq_discussions_parties', ['id', 'buyer_id', 'seller_id'],
                              unique=True)
        batch_op.create_foreign_key('fk_discussions_order_parties', 'orders',
                                    ['order_id', 'buyer_id', 'seller_id'],
                                    ['id', 'buyer_id', 'seller_id'])
        batch_op.create_check_constraint(op.f('ck_discussions_advisor_not_a_party'),
                                         _not_a_party('assigned_staff_id'))
        batch_op.create_check_constraint(op.f('ck_discussions_decider_not_a_party'),
                                         _not_a_party('decided_by_id'))

    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seller_id', ID, nullable=True, comment='= order.seller_id'))
    op.execute("UPDATE claims SET seller_id = (SELECT orders.seller_id FROM orders "
               "WHERE orders.id = claims.order_id)")
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.alter_column('seller_id', existing_type=ID, nullable=False,
                              existing_comment='= order.seller_id')
        batch_op.create_index('uq_claims_parties', ['id', 'buyer_id', 'seller_id'], unique=True)
        batch_op.create_foreign_key(op.f('fk_claims_seller_id_users'), 'users', ['seller_id'],
                                    ['id'])
        batch_op.create_foreign_key('fk_claims_order_parties', 'orders',
                                    ['order_id', 'buyer_id', 'seller_id'],
                                    ['id', 'buyer_id', 'seller_id'])
        batch_op.create_check_constraint(op.f('ck_claims_advisor_not_a_party'),
                                         _not_a_party('assigned_staff_id'))
        batch_op.create_check_constraint(op.f('ck_claims_decider_not_a_party'),
                                         _not_a_party('decided_by_id'))

    _add_parties('information_requests', 'discussions', 'discussion_id', 'discussion')
    with op.batch_alter_table('information_requests', schema=None) as batch_op:
        for party in PARTIES:
            batch_op.alter_column(party, existing_type=ID, nullable=False,
                                  existing_comment=f'= discussion.{party}')
        batch_op.create_foreign_key('fk_information_requests_discussion_parties', 'discussions',
                                    ['discussion_id', 'buyer_id', 'seller_id'],
                                    ['id', 'buyer_id', 'seller_id'])
        batch_op.create_check_constraint(op.f('ck_information_requests_requester_not_a_party'),
                                         _not_a_party('requested_by_id'))

    _add_parties('document_requests', 'claims', 'claim_id', 'claim')
    with op.batch_alter_table('document_requests', schema=None) as batch_op:
        for party in PARTIES:
            batch_op.alter_column(party, existing_type=ID, nullable=False,
                                  existing_comment=f'= claim.{party}')
        batch_op.create_foreign_key('fk_document_requests_claim_parties', 'claims',
                                    ['claim_id', 'buyer_id', 'seller_id'],
                                    ['id', 'buyer_id', 'seller_id'])
        batch_op.create_check_constraint(op.f('ck_document_requests_requester_not_a_party'),
                                         _not_a_party('requested_by_id'))

    with op.batch_alter_table('payout_batches', schema=None) as batch_op:
        batch_op.create_index('uq_payout_batches_exporter', ['id', 'created_by_id'], unique=True)
        batch_op.create_index('uq_payout_batches_marker', ['id', 'marked_paid_by_id'],
                              unique=True)

    _add_parties('payouts', 'claims', 'claim_id', 'claim')
    with op.batch_alter_table('payouts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('exported_by_id', ID, nullable=True,
                                      comment='= batch.created_by_id'))
        batch_op.add_column(sa.Column('marked_paid_by_id', ID, nullable=True,
                                      comment='= batch.marked_paid_by_id'))
    op.execute("UPDATE payouts SET exported_by_id = (SELECT payout_batches.created_by_id "
               "FROM payout_batches WHERE payout_batches.id = payouts.batch_id)")
    op.execute("UPDATE payouts SET marked_paid_by_id = (SELECT payout_batches.marked_paid_by_id "
               "FROM payout_batches WHERE payout_batches.id = payouts.batch_id) "
               "WHERE state = 'paid'")
    with op.batch_alter_table('payouts', schema=None) as batch_op:
        for party in PARTIES:
            batch_op.alter_column(party, existing_type=ID, nullable=False,
                                  existing_comment=f'= claim.{party}')
        batch_op.create_foreign_key('fk_payouts_claim_parties', 'claims',
                                    ['claim_id', 'buyer_id', 'seller_id'],
                                    ['id', 'buyer_id', 'seller_id'])
        batch_op.create_foreign_key('fk_payouts_batch_exporter', 'payout_batches',
                                    ['batch_id', 'exported_by_id'], ['id', 'created_by_id'])
        batch_op.create_foreign_key('fk_payouts_batch_marker', 'payout_batches',
                                    ['batch_id', 'marked_paid_by_id'],
                                    ['id', 'marked_paid_by_id'])
        batch_op.create_check_constraint(op.f('ck_payouts_exported_by_iff_batched'),
                                         '(batch_id IS NULL) = (exported_by_id IS NULL)')
        batch_op.create_check_constraint(op.f('ck_payouts_marked_paid_by_iff_paid'),
                                         "(state = 'paid') = (marked_paid_by_id IS NOT NULL)")
        batch_op.create_check_constraint(op.f('ck_payouts_exporter_not_a_party'),
                                         _not_a_party('exported_by_id'))
        batch_op.create_check_constraint(op.f('ck_payouts_marker_not_a_party'),
                                         _not_a_party('marked_paid_by_id'))


def downgrade():
    with op.batch_alter_table('payouts', schema=None) as batch_op:
        for name in ('marker_not_a_party', 'exporter_not_a_party', 'marked_paid_by_iff_paid',
                     'exported_by_iff_batched'):
            batch_op.drop_constraint(op.f(f'ck_payouts_{name}'), type_='check')
        for name in ('fk_payouts_batch_marker', 'fk_payouts_batch_exporter',
                     'fk_payouts_claim_parties'):
            batch_op.drop_constraint(name, type_='foreignkey')
        for column in ('marked_paid_by_id', 'exported_by_id', *PARTIES):
            batch_op.drop_column(column)

    with op.batch_alter_table('payout_batches', schema=None) as batch_op:
        batch_op.drop_index('uq_payout_batches_marker')
        batch_op.drop_index('uq_payout_batches_exporter')

    for table, key in (('document_requests', 'claim'),
                       ('information_requests', 'discussion')):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(op.f(f'ck_{table}_requester_not_a_party'), type_='check')
            batch_op.drop_constraint(f'fk_{table}_{key}_parties', type_='foreignkey')
            for party in PARTIES:
                batch_op.drop_column(party)

    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_claims_decider_not_a_party'), type_='check')
        batch_op.drop_constraint(op.f('ck_claims_advisor_not_a_party'), type_='check')
        batch_op.drop_constraint('fk_claims_order_parties', type_='foreignkey')
        batch_op.drop_constraint(op.f('fk_claims_seller_id_users'), type_='foreignkey')
        batch_op.drop_index('uq_claims_parties')
        batch_op.drop_column('seller_id')

    with op.batch_alter_table('discussions', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_discussions_decider_not_a_party'), type_='check')
        batch_op.drop_constraint(op.f('ck_discussions_advisor_not_a_party'), type_='check')
        batch_op.drop_constraint('fk_discussions_order_parties', type_='foreignkey')
        batch_op.drop_index('uq_discussions_parties')

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index('uq_orders_parties')
