"""four eyes on claim approvals, and the policy's per-buyer cap

Claims get ``awaiting_second_approval``: an approval paying more than
CLAIM_SECOND_APPROVAL_ABOVE waits there for a second, different senior. A claim records
who approved it (``first_approver_id``, the decider), whether a second approval is
required and who gave it, the last send-back (when, who, why) and, when the policy's
per-buyer cap lowered an approval, what it would have paid (``buyer_cap_lowered_from``).
CHECKs tie them to the states: a claim that needs a second approval is payable only with
one, from someone other than the first approver and neither party.

A claim's payout copies the approvals (first approver, the flag, the second approver) and
refers to the claim's through two composite foreign keys, with CHECKs that it has a first
approver and, when it needs a second approval, a second approver: the database refuses a
payout for a claim nobody approved, for one awaiting its second approval, or approved by
one person alone when it needs two. An appeal's payout rests on the appeal's decision (a
senior other than the decider) and copies no claim approval.

What exists: every approved, partially approved or paid claim gets its decider as first
approver (decided before the rule: no second approval required), and so do their payouts
(not the appeals' payouts).

Policy versions get ``per_buyer_cap_minor`` and ``per_buyer_window_days`` (both or neither;
2017-08 has none).

The downgrade sends claims awaiting a second approval back to under review (their
approval was never final: nothing was paid or written into the ledger) and drops the
columns.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05 22:30:00

"""
import sqlalchemy as sa
from alembic import op

import arbiter.db  # noqa: F401 - custom column types

# revision identifiers, used by Alembic.
revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
OLD_STATES = ('submitted', 'under_review', 'awaiting_documents', 'approved',
              'partially_approved', 'rejected', 'withdrawn', 'paid')
NEW_STATES = ('submitted', 'under_review', 'awaiting_documents', 'awaiting_second_approval',
              'approved', 'partially_approved', 'rejected', 'withdrawn', 'paid')
OLD_APPROVED = "state IN ('approved', 'paid', 'partially_approved')"
NEW_APPROVED = "state IN ('approved', 'awaiting_second_approval', 'paid', 'partially_approved')"
OLD_EXCLUSIVE = ("state IN ('approved', 'awaiting_documents', 'paid', 'partially_approved', "
                 "'submitted', 'under_review')")
NEW_EXCLUSIVE = ("state IN ('approved', 'awaiting_documents', 'awaiting_second_approval', "
                 "'paid', 'partially_approved', 'submitted', 'under_review')")

CLAIM_CHECKS = {
    'first_approver_has_time': '(first_approver_id IS NULL) = (first_approved_at IS NULL)',
    'second_approver_has_time': '(second_approver_id IS NULL) = (second_approved_at IS NULL)',
    'second_approver_not_first': 'second_approver_id <> first_approver_id',
    'approvers_not_parties': 'first_approver_id <> buyer_id AND first_approver_id <> seller_id '
                             'AND second_approver_id <> buyer_id AND '
                             'second_approver_id <> seller_id',
    'second_approval_only_when_required': 'second_approver_id IS NULL OR requires_second_approval',
    'approved_iff_first_approver': f'(first_approver_id IS NOT NULL) = ({NEW_APPROVED})',
    'awaiting_second_approval_required': "state <> 'awaiting_second_approval' OR "
                                         "(requires_second_approval AND "
                                         "second_approver_id IS NULL)",
    'payable_has_second_approval': f'NOT ({OLD_APPROVED}) OR NOT requires_second_approval '
                                   'OR second_approver_id IS NOT NULL',
    'pending_decision_iff_awaiting': "(state = 'awaiting_second_approval') = "
                                     "(pending_decision IS NOT NULL)",
    'sent_back_has_reason': '(sent_back_at IS NULL) = (sent_back_reason IS NULL) '
                            'AND (sent_back_at IS NULL) = (sent_back_by_id IS NULL)',
    'buyer_cap_lowered_the_amount': 'buyer_cap_lowered_from IS NULL OR '
                                    '(approved_amount IS NOT NULL AND '
                                    'buyer_cap_lowered_from > approved_amount)',
}
PAYOUT_CHECKS = {
    'second_approval_if_required': 'NOT requires_second_approval OR '
                                   'second_approver_id IS NOT NULL',
    'claim_payout_has_approver': 'appeal_id IS NOT NULL OR first_approver_id IS NOT NULL',
    'second_approver_not_first': 'second_approver_id <> first_approver_id',
}
POLICY_CHECKS = {
    'per_buyer_cap_has_window': '(per_buyer_cap_minor IS NULL) = (per_buyer_window_days IS NULL)',
    'per_buyer_cap_positive': 'per_buyer_cap_minor IS NULL OR per_buyer_cap_minor > 0',
    'per_buyer_window_positive': 'per_buyer_window_days IS NULL OR per_buyer_window_days > 0',
}


def _states_in(states):
    return 'state IN ({})'.format(', '.join(f"'{state}'" for state in states))


def _amount_checks(batch_op, approved):
    batch_op.create_check_constraint(
        op.f('ck_claims_payable_has_positive_amount'),
        f'NOT ({approved}) OR (approved_amount IS NOT NULL AND approved_amount > 0)')
    batch_op.create_check_constraint(op.f('ck_claims_amount_only_when_payable'),
                                     f'approved_amount IS NULL OR {approved}')


def _drop_state_checks(batch_op):
    batch_op.drop_index('uq_claims_order_exclusive')
    batch_op.drop_constraint(op.f('ck_claims_claimstate'), type_='check')
    batch_op.drop_constraint(op.f('ck_claims_payable_has_positive_amount'), type_='check')
    batch_op.drop_constraint(op.f('ck_claims_amount_only_when_payable'), type_='check')


def upgrade():
    with op.batch_alter_table('policy_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            'per_buyer_cap_minor', ID, nullable=True,
            comment='Most the platform pays one buyer over the rolling window, grosze; '
                    'empty: no per-buyer cap'))
        batch_op.add_column(sa.Column(
            'per_buyer_window_days', ID, nullable=True,
            comment='The rolling window of the per-buyer cap, days of 24 h before a decision'))
        for name, condition in POLICY_CHECKS.items():
            batch_op.create_check_constraint(op.f(f'ck_policy_versions_{name}'), condition)

    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            'requires_second_approval', sa.Boolean(), server_default=sa.text('false'),
            nullable=False,
            comment='The approval pays more than CLAIM_SECOND_APPROVAL_ABOVE: a second senior '
                    'confirms it'))
        batch_op.add_column(sa.Column(
            'pending_decision',
            sa.Enum('approved', 'partially_approved', 'rejected', name='pending_decision',
                    native_enum=False, create_constraint=True, length=32),
            nullable=True,
            comment='What the first approver decided, while awaiting the second approval'))
        batch_op.add_column(sa.Column('first_approver_id', ID, nullable=True,
                                      comment='Who approved (the decider); set with the amount'))
        batch_op.add_column(sa.Column('first_approved_at', arbiter.db.UTCDateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column('second_approver_id', ID, nullable=True,
                                      comment='The senior who confirmed the approval'))
        batch_op.add_column(sa.Column('second_approved_at',
                                      arbiter.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column(
            'sent_back_at', arbiter.db.UTCDateTime(timezone=True), nullable=True,
            comment='The last time a second approver sent the approval back to review'))
        batch_op.add_column(sa.Column('sent_back_by_id', ID, nullable=True))
        batch_op.add_column(sa.Column('sent_back_reason', sa.Text(), nullable=True,
                                      comment='Why it was sent back (for staff only)'))
        batch_op.add_column(sa.Column(
            'buyer_cap_lowered_from', ID, nullable=True,
            comment="grosze the approval would have paid without the policy's per-buyer cap, "
                    "when that cap lowered it to the buyer's remaining room"))
        _drop_state_checks(batch_op)

    # Decided before the rule: the decider approved alone, no second approval required.
    op.execute(f"UPDATE claims SET first_approver_id = decided_by_id, "
               f"first_approved_at = decided_at WHERE {OLD_APPROVED}")

    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.create_check_constraint(op.f('ck_claims_claimstate'),
                                         _states_in(NEW_STATES))
        _amount_checks(batch_op, NEW_APPROVED)
        for name, condition in CLAIM_CHECKS.items():
            batch_op.create_check_constraint(op.f(f'ck_claims_{name}'), condition)
        where = sa.text(NEW_EXCLUSIVE)
        batch_op.create_index('uq_claims_order_exclusive', ['order_id'], unique=True,
                              sqlite_where=where, postgresql_where=where)
        awaiting = sa.text("state = 'awaiting_second_approval'")
        batch_op.create_index('ix_claims_awaiting_second_approval', ['first_approved_at', 'id'],
                              unique=False, sqlite_where=awaiting, postgresql_where=awaiting)
        batch_op.create_index('uq_claims_approvals',
                              ['id', 'first_approver_id', 'requires_second_approval'],
                              unique=True)
        batch_op.create_index('uq_claims_second_approver', ['id', 'second_approver_id'],
                              unique=True)
        batch_op.create_foreign_key(op.f('fk_claims_first_approver_id_users'), 'users',
                                    ['first_approver_id'], ['id'])
        batch_op.create_foreign_key(op.f('fk_claims_second_approver_id_users'), 'users',
                                    ['second_approver_id'], ['id'])
        batch_op.create_foreign_key(op.f('fk_claims_sent_back_by_id_users'), 'users',
                                    ['sent_back_by_id'], ['id'])

    with op.batch_alter_table('payouts', schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            'first_approver_id', ID, nullable=True,
            comment="= claim.first_approver_id; empty only for an appeal's payout"))
        batch_op.add_column(sa.Column('requires_second_approval', sa.Boolean(),
                                      server_default=sa.text('false'), nullable=False,
                                      comment='= claim.requires_second_approval'))
        batch_op.add_column(sa.Column('second_approver_id', ID, nullable=True,
                                      comment='= claim.second_approver_id'))
    op.execute("UPDATE payouts SET first_approver_id = (SELECT claims.first_approver_id "
               "FROM claims WHERE claims.id = payouts.claim_id) WHERE appeal_id IS NULL")
    with op.batch_alter_table('payouts', schema=None) as batch_op:
        batch_op.alter_column('requires_second_approval', existing_type=sa.Boolean(),
                              server_default=None)
        for name, condition in PAYOUT_CHECKS.items():
            batch_op.create_check_constraint(op.f(f'ck_payouts_{name}'), condition)
        batch_op.create_foreign_key(
            'fk_payouts_claim_approvals', 'claims',
            ['claim_id', 'first_approver_id', 'requires_second_approval'],
            ['id', 'first_approver_id', 'requires_second_approval'])
        batch_op.create_foreign_key('fk_payouts_claim_second_approver', 'claims',
                                    ['claim_id', 'second_approver_id'],
                                    ['id', 'second_approver_id'])


def downgrade():
    with op.batch_alter_table('payouts', schema=None) as batch_op:
        batch_op.drop_constraint('fk_payouts_claim_second_approver', type_='foreignkey')
        batch_op.drop_constraint('fk_payouts_claim_approvals', type_='foreignkey')
        for name in PAYOUT_CHECKS:
            batch_op.drop_constraint(op.f(f'ck_payouts_{name}'), type_='check')
        batch_op.drop_column('second_approver_id')
        batch_op.drop_column('requires_second_approval')
        batch_op.drop_column('first_approver_id')

    # Never final: back to review (nothing was paid or written into the ledger).
    op.execute("UPDATE claims SET state = 'under_review', approved_amount = NULL, "
               "pending_decision = NULL, requires_second_approval = false, "
               "first_approver_id = NULL, first_approved_at = NULL, "
               "buyer_cap_lowered_from = NULL WHERE state = 'awaiting_second_approval'")
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('fk_claims_sent_back_by_id_users'), type_='foreignkey')
        batch_op.drop_constraint(op.f('fk_claims_second_approver_id_users'), type_='foreignkey')
        batch_op.drop_constraint(op.f('fk_claims_first_approver_id_users'), type_='foreignkey')
        batch_op.drop_index('uq_claims_second_approver')
        batch_op.drop_index('uq_claims_approvals')
        batch_op.drop_index('ix_claims_awaiting_second_approval')
        for name in CLAIM_CHECKS:
            batch_op.drop_constraint(op.f(f'ck_claims_{name}'), type_='check')
        batch_op.drop_constraint(op.f('ck_claims_pending_decision'), type_='check')
        _drop_state_checks(batch_op)
        for column in ('buyer_cap_lowered_from', 'sent_back_reason', 'sent_back_by_id',
                       'sent_back_at', 'second_approved_at', 'second_approver_id',
                       'first_approved_at', 'first_approver_id', 'pending_decision',
                       'requires_second_approval'):
            batch_op.drop_column(column)
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.create_check_constraint(op.f('ck_claims_claimstate'), _states_in(OLD_STATES))
        _amount_checks(batch_op, OLD_APPROVED)
        where = sa.text(OLD_EXCLUSIVE)
        batch_op.create_index('uq_claims_order_exclusive', ['order_id'], unique=True,
                              sqlite_where=where, postgresql_where=where)

    with op.batch_alter_table('policy_versions', schema=None) as batch_op:
        for name in POLICY_CHECKS:
            batch_op.drop_constraint(op.f(f'ck_policy_versions_{name}'), type_='check')
        batch_op.drop_column('per_buyer_window_days')
        batch_op.drop_column('per_buyer_cap_minor')
