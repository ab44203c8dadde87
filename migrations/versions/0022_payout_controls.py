"""payout controls: four eyes on batches, returned transfers, shared-account holds

- ``payout_batches``: whoever exported a batch never confirms it paid
  (CHECK ``marked_paid_by_id <> created_by_id``).
- ``payouts``: a transfer the bank returned is ``failed`` (when, by whom, why; it keeps when
  it was paid), and is paid again by a new payout, its re-issue (``reissue_of_id``, one per
  failed payout, for the same claim); a payout to an account another buyer also uses is
  held until a senior releases it (``released_at``/``released_by_id``/``release_note``).
  The one-payout-per-claim and per-appeal indexes leave re-issues out.
- ``settlements``: the same for the ledger: a new owed payout row re-issues a failed one
  (``reissue_of_id``); a confirmed payout may now fail (the bank returned it) and a recovery
  may be written off (state failed), which the states already allow.

Existing rows need nothing: no payout has failed, none is released, none re-issued. The
downgrade refuses when a payout failed or was re-issued (those have no place in the older
schema); it drops the release columns otherwise.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-05 22:20:00

"""
import sqlalchemy as sa
from alembic import op

import arbiter.db  # noqa: F401 - custom column types

# revision identifiers, used by Alembic.
revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')

OLD = {
    ('payouts', 'payoutstate'): "state IN ('pending', 'exported', 'paid')",
    ('payouts', 'paid_iff_paid_at'): "(state = 'paid') = (paid_at IS NOT NULL)",
    ('payouts', 'marked_paid_by_iff_paid'): "(state = 'paid') = (marked_paid_by_id IS NOT NULL)",
}
NEW = {
    ('payouts', 'payoutstate'): "state IN ('pending', 'exported', 'paid', 'failed')",
    ('payouts', 'paid_iff_paid_at'):
        "(state IN ('paid', 'failed')) = (paid_at IS NOT NULL)",
    ('payouts', 'marked_paid_by_iff_paid'):
        "(state IN ('paid', 'failed')) = (marked_paid_by_id IS NOT NULL)",
    ('payouts', 'reissue_not_self'): "reissue_of_id IS NULL OR reissue_of_id <> id",
    ('payouts', 'failed_iff_failed_at'): "(state = 'failed') = (failed_at IS NOT NULL)",
    ('payouts', 'failure_has_who_and_why'):
        "(failed_at IS NULL) = (failed_by_id IS NULL) "
        "AND (failed_at IS NULL) = (failure_reason IS NULL)",
    ('payouts', 'failer_not_a_party'):
        "failed_by_id <> buyer_id AND failed_by_id <> seller_id",
    ('payouts', 'release_has_who_and_why'):
        "(released_at IS NULL) = (released_by_id IS NULL) "
        "AND (released_at IS NULL) = (release_note IS NULL)",
    ('payouts', 'releaser_not_a_party'):
        "released_by_id <> buyer_id AND released_by_id <> seller_id",
    ('payout_batches', 'confirmer_not_exporter'): "marked_paid_by_id <> created_by_id",
    ('settlements', 'reissue_is_payout'): "reissue_of_id IS NULL OR kind = 'payout'",
}


def _checks(wanted):
    """Replace the CHECKs named in OLD and NEW by ``wanted``'s (a missing one is dropped)."""
    tables = sorted({table for table, _ in OLD} | {table for table, _ in NEW})
    for table in tables:
        names = sorted({name for t, name in OLD if t == table}
                       | {name for t, name in NEW if t == table})
        existing = {check['name']
                    for check in sa.inspect(op.get_bind()).get_check_constraints(table)}
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name in names:
                if f'ck_{table}_{name}' in existing:
                    batch_op.drop_constraint(op.f(f'ck_{table}_{name}'), type_='check')
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name in names:
                if (table, name) in wanted:
                    batch_op.create_check_constraint(op.f(f'ck_{table}_{name}'),
                                                     wanted[(table, name)])


def upgrade():
    with op.batch_alter_table('payouts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('failed_at', arbiter.db.UTCDateTime(timezone=True), nullable=True, comment='When finance recorded that the bank returned the transfer'))  # noqa: E501
        batch_op.add_column(sa.Column('failed_by_id', ID, nullable=True))
        batch_op.add_column(sa.Column('failure_reason', sa.Text(), nullable=True, comment="The bank's reason for the return, in finance's words"))  # noqa: E501
        batch_op.add_column(sa.Column('reissue_of_id', ID, nullable=True, comment='The returned payout this one pays again (to the corrected account)'))  # noqa: E501
        batch_op.add_column(sa.Column('released_at', arbiter.db.UTCDateTime(timezone=True), nullable=True, comment='A senior let a payout to an account shared with another buyer go out'))  # noqa: E501
        batch_op.add_column(sa.Column('released_by_id', ID, nullable=True))
        batch_op.add_column(sa.Column('release_note', sa.Text(), nullable=True))
        batch_op.drop_constraint(batch_op.f('uq_payouts_appeal_id'), type_='unique')
        batch_op.drop_index('uq_payouts_claim', sqlite_where=sa.text('appeal_id IS NULL'),
                            postgresql_where=sa.text('appeal_id IS NULL'))
        batch_op.create_index('uq_payouts_claim', ['claim_id'], unique=True, sqlite_where=sa.text('appeal_id IS NULL AND reissue_of_id IS NULL'), postgresql_where=sa.text('appeal_id IS NULL AND reissue_of_id IS NULL'))  # noqa: E501
        batch_op.create_index('uq_payouts_appeal', ['appeal_id'], unique=True, sqlite_where=sa.text('appeal_id IS NOT NULL AND reissue_of_id IS NULL'), postgresql_where=sa.text('appeal_id IS NOT NULL AND reissue_of_id IS NULL'))  # noqa: E501
        batch_op.create_index('uq_payouts_id_claim', ['id', 'claim_id'], unique=True)
        batch_op.create_index('ix_payouts_account', ['account'], unique=False)
        batch_op.create_unique_constraint(batch_op.f('uq_payouts_reissue_of_id'), ['reissue_of_id'])
        batch_op.create_foreign_key(batch_op.f('fk_payouts_failed_by_id_users'), 'users', ['failed_by_id'], ['id'])  # noqa: E501
        batch_op.create_foreign_key(batch_op.f('fk_payouts_released_by_id_users'), 'users', ['released_by_id'], ['id'])  # noqa: E501
    with op.batch_alter_table('payouts', schema=None) as batch_op:
        batch_op.create_foreign_key('fk_payouts_reissue_same_claim', 'payouts', ['reissue_of_id', 'claim_id'], ['id', 'claim_id'])  # noqa: E501

    with op.batch_alter_table('settlements', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reissue_of_id', ID, nullable=True, comment='The payout the bank returned that this row pays again'))  # noqa: E501
        batch_op.drop_index('uq_settlements_claim_kind', sqlite_where=sa.text('claim_id IS NOT NULL'), postgresql_where=sa.text('claim_id IS NOT NULL'))  # noqa: E501
        batch_op.drop_index('uq_settlements_appeal_kind', sqlite_where=sa.text('appeal_id IS NOT NULL'), postgresql_where=sa.text('appeal_id IS NOT NULL'))  # noqa: E501
        batch_op.create_index('uq_settlements_claim_kind', ['claim_id', 'kind'], unique=True, sqlite_where=sa.text('claim_id IS NOT NULL AND reissue_of_id IS NULL'), postgresql_where=sa.text('claim_id IS NOT NULL AND reissue_of_id IS NULL'))  # noqa: E501
        batch_op.create_index('uq_settlements_appeal_kind', ['appeal_id', 'kind'], unique=True, sqlite_where=sa.text('appeal_id IS NOT NULL AND reissue_of_id IS NULL'), postgresql_where=sa.text('appeal_id IS NOT NULL AND reissue_of_id IS NULL'))  # noqa: E501
        batch_op.create_unique_constraint(batch_op.f('uq_settlements_reissue_of_id'), ['reissue_of_id'])  # noqa: E501
        batch_op.create_foreign_key(batch_op.f('fk_settlements_reissue_of_id_settlements'), 'settlements', ['reissue_of_id'], ['id'])  # noqa: E501
    _checks(NEW)


def downgrade():
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT COUNT(*) FROM payouts WHERE state = 'failed' "
                            "OR reissue_of_id IS NOT NULL")).scalar():
        raise RuntimeError(
            "Downgrade below 0022 changed nothing: a payout was returned by the bank or paid "
            "again, which the older schema cannot hold.")
    _checks(OLD)
    with op.batch_alter_table('settlements', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_settlements_reissue_of_id_settlements'), type_='foreignkey')  # noqa: E501
        batch_op.drop_constraint(batch_op.f('uq_settlements_reissue_of_id'), type_='unique')
        batch_op.drop_index('uq_settlements_appeal_kind', sqlite_where=sa.text('appeal_id IS NOT NULL AND reissue_of_id IS NULL'), postgresql_where=sa.text('appeal_id IS NOT NULL AND reissue_of_id IS NULL'))  # noqa: E501
        batch_op.drop_index('uq_settlements_claim_kind', sqlite_where=sa.text('claim_id IS NOT NULL AND reissue_of_id IS NULL'), postgresql_where=sa.text('claim_id IS NOT NULL AND reissue_of_id IS NULL'))  # noqa: E501
        batch_op.create_index('uq_settlements_appeal_kind', ['appeal_id', 'kind'], unique=True, sqlite_where=sa.text('appeal_id IS NOT NULL'), postgresql_where=sa.text('appeal_id IS NOT NULL'))  # noqa: E501
        batch_op.create_index('uq_settlements_claim_kind', ['claim_id', 'kind'], unique=True, sqlite_where=sa.text('claim_id IS NOT NULL'), postgresql_where=sa.text('claim_id IS NOT NULL'))  # noqa: E501
        batch_op.drop_column('reissue_of_id')

    with op.batch_alter_table('payouts', schema=None) as batch_op:
        batch_op.drop_constraint('fk_payouts_reissue_same_claim', type_='foreignkey')
    with op.batch_alter_table('payouts', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_payouts_released_by_id_users'), type_='foreignkey')  # noqa: E501
        batch_op.drop_constraint(batch_op.f('fk_payouts_failed_by_id_users'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_payouts_reissue_of_id'), type_='unique')
        batch_op.drop_index('ix_payouts_account')
        batch_op.drop_index('uq_payouts_id_claim')
        batch_op.drop_index('uq_payouts_appeal', sqlite_where=sa.text('appeal_id IS NOT NULL AND reissue_of_id IS NULL'), postgresql_where=sa.text('appeal_id IS NOT NULL AND reissue_of_id IS NULL'))  # noqa: E501
        batch_op.drop_index('uq_payouts_claim', sqlite_where=sa.text('appeal_id IS NULL AND reissue_of_id IS NULL'), postgresql_where=sa.text('appeal_id IS NULL AND reissue_of_id IS NULL'))  # noqa: E501
        batch_op.create_index('uq_payouts_claim', ['claim_id'], unique=True, sqlite_where=sa.text('appeal_id IS NULL'), postgresql_where=sa.text('appeal_id IS NULL'))  # noqa: E501
        batch_op.create_unique_constraint(batch_op.f('uq_payouts_appeal_id'), ['appeal_id'])
        for column in ('release_note', 'released_by_id', 'released_at', 'reissue_of_id',
                       'failure_reason', 'failed_by_id', 'failed_at'):
            batch_op.drop_column(column)
