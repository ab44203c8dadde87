"""appeals: a second, different reviewer for every verdict and claim decision

The ``appeals`` table, with the decision's author copied and tied to the decision by a
composite foreign key (``uq_discussions_decider``, ``uq_claims_decider``), so the database
refuses them as the reviewer; the appeal's files and the reviewer's evidence-read marks.
Money changes only through the ledger: settlement rows may now come from an appeal
(``settlements.appeal_id``, source ``appeal``), and a claim may have a second payout, the
top-up an appeal decided (``payouts.appeal_id``). Decision documents get the kind
``appeal``; incidents may extend the appeal deadlines.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 19:33:47.433191

"""
import sqlalchemy as sa
from alembic import op

import arbiter.db  # noqa: F401 - custom column types


# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def _in(values):
    return ', '.join(f"'{value}'" for value in values)


OLD_PAIRS = "(kind = 'refund' AND payer = 'seller' AND payee = 'buyer' AND source = 'offer') OR (kind = 'partial_refund' AND payer = 'seller' AND payee = 'buyer' AND source = 'offer') OR (kind = 'replacement' AND payer = 'seller' AND payee = 'buyer' AND source = 'offer') OR (kind = 'repair' AND payer = 'seller' AND payee = 'buyer' AND source = 'offer') OR (kind = 'verdict' AND payer = 'seller' AND payee = 'buyer' AND source = 'verdict') OR (kind = 'payout' AND payer = 'platform' AND payee = 'buyer' AND source = 'claim') OR (kind = 'recovery' AND payer = 'seller' AND payee = 'platform' AND source = 'claim')"  # noqa: E501
NEW_PAIRS = "(kind = 'refund' AND payer = 'seller' AND payee = 'buyer' AND source IN ('offer')) OR (kind = 'partial_refund' AND payer = 'seller' AND payee = 'buyer' AND source IN ('offer')) OR (kind = 'replacement' AND payer = 'seller' AND payee = 'buyer' AND source IN ('offer')) OR (kind = 'repair' AND payer = 'seller' AND payee = 'buyer' AND source IN ('offer')) OR (kind = 'verdict' AND payer = 'seller' AND payee = 'buyer' AND source IN ('appeal', 'verdict')) OR (kind = 'payout' AND payer = 'platform' AND payee = 'buyer' AND source IN ('appeal', 'claim')) OR (kind = 'recovery' AND payer = 'seller' AND payee = 'platform' AND source IN ('appeal', 'claim'))"  # noqa: E501
OLD_DEADLINE_KINDS = ('discussion.respond_by', 'discussion.escalation_available_at',
                      'information_request.due_at', 'document_request.due_at',
                      'order.filing_window', 'claim.seller_answer_due_at')
OLD = {
    ('settlements', 'kind_names_its_parties'): OLD_PAIRS,
    ('settlements', 'settlementsource'): f"source IN ({_in(('offer', 'verdict', 'claim'))})",
    ('decision_documents', 'decisionkind'): f"kind IN ({_in(('verdict', 'claim'))})",
    ('deadline_extensions', 'deadlinekind'): f"deadline_kind IN ({_in(OLD_DEADLINE_KINDS)})",
}
NEW = {
    ('settlements', 'kind_names_its_parties'): NEW_PAIRS,
    ('settlements', 'settlementsource'):
        f"source IN ({_in(('offer', 'verdict', 'claim', 'appeal'))})",
    ('settlements', 'appeal_iff_source'): "(source = 'appeal') = (appeal_id IS NOT NULL)",
    ('decision_documents', 'decisionkind'): f"kind IN ({_in(('verdict', 'claim', 'appeal'))})",
    ('deadline_extensions', 'deadlinekind'): "deadline_kind IN ({})".format(_in(
        OLD_DEADLINE_KINDS + ('discussion.appeal_window', 'claim.appeal_window',
                              'appeal.answer_due_at', 'appeal.review_due_at'))),
}


def _checks(wanted):
    """Replace the CHECKs named in OLD and NEW by ``wanted``'s (a missing one is dropped)."""
    tables = sorted({table for table, _ in OLD} | {table for table, _ in NEW})
    for table in tables:
        names = sorted({name for t, name in OLD if t == table}
                       | {name for t, name in NEW if t == table})
        existing = {check['name'] for check in sa.inspect(op.get_bind()).get_check_constraints(table)}
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
    # What an appeal's copy of the decision's author refers to (before the appeals table).
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.create_index('uq_claims_decider', ['id', 'decided_by_id'], unique=True)

    with op.batch_alter_table('discussions', schema=None) as batch_op:
        batch_op.create_index('uq_discussions_decider', ['id', 'decided_by_id'], unique=True)

    op.create_table('appeals',
    sa.Column('version', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('order_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('buyer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False, comment='= order.buyer_id'),
    sa.Column('seller_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False, comment='= order.seller_id'),
    sa.Column('subject', sa.Enum('verdict', 'claim', name='appeal_subject', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('discussion_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True, comment='The verdict appealed'),
    sa.Column('claim_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True, comment='The claim whose decision is appealed'),
    sa.Column('original_decider_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False, comment="= the decision's decided_by_id"),
    sa.Column('original_amount', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False, comment='grosze the appealed decision granted the buyer (0: nothing)'),
    sa.Column('appellant', sa.Enum('buyer', 'seller', name='appellant', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('statement', sa.Text(), nullable=False),
    sa.Column('filed_at', arbiter.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('answer_due_at', arbiter.db.UTCDateTime(timezone=True), nullable=False, comment="filed_at + 72 h (+ extensions): the other party's statement"),
    sa.Column('respondent_statement', sa.Text(), nullable=True),
    sa.Column('respondent_answered_at', arbiter.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('review_due_at', arbiter.db.UTCDateTime(timezone=True), nullable=False, comment='filed_at + 14 days (+ extensions): the service level for a decision'),
    sa.Column('state', sa.Enum('submitted', 'under_review', 'upheld', 'varied', 'overturned', name='appealstate', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('reviewer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('taken_at', arbiter.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('new_amount', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True, comment='grosze the appeal decision grants the buyer (= original when upheld)'),
    sa.Column('rationale', sa.Text(), nullable=True),
    sa.Column('decided_at', arbiter.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', arbiter.db.UTCDateTime(timezone=True), nullable=False, comment='When the row was created (UTC)'),
    sa.Column('updated_at', arbiter.db.UTCDateTime(timezone=True), nullable=False, comment='When the row last changed (UTC)'),
    sa.CheckConstraint("(state IN ('overturned', 'upheld', 'varied')) = (decided_at IS NOT NULL) AND (decided_at IS NULL OR (reviewer_id IS NOT NULL AND length(rationale) >= 30 AND new_amount IS NOT NULL))", name=op.f('ck_appeals_decided_has_reasons')),
    sa.CheckConstraint("(subject = 'verdict') = (discussion_id IS NOT NULL) AND (subject = 'claim') = (claim_id IS NOT NULL)", name=op.f('ck_appeals_subject_names_its_decision')),
    sa.CheckConstraint("NOT (state IN ('under_review')) OR (reviewer_id IS NOT NULL AND taken_at IS NOT NULL)", name=op.f('ck_appeals_reviewed_has_reviewer')),
    sa.CheckConstraint("state <> 'upheld' OR new_amount = original_amount", name=op.f('ck_appeals_upheld_keeps_the_amount')),
    sa.CheckConstraint("state <> 'varied' OR new_amount <> original_amount", name=op.f('ck_appeals_varied_changes_the_amount')),
    sa.CheckConstraint('(respondent_answered_at IS NULL) = (respondent_statement IS NULL)', name=op.f('ck_appeals_answer_has_statement')),
    sa.CheckConstraint('answer_due_at > filed_at AND review_due_at > filed_at', name=op.f('ck_appeals_deadlines_after_filing')),
    sa.CheckConstraint('length(statement) BETWEEN 30 AND 20000', name=op.f('ck_appeals_statement_length')),
    sa.CheckConstraint('new_amount IS NULL OR new_amount >= 0', name=op.f('ck_appeals_new_amount_not_negative')),
    sa.CheckConstraint('original_amount >= 0', name=op.f('ck_appeals_original_amount_not_negative')),
    sa.CheckConstraint('reviewer_id <> buyer_id AND reviewer_id <> seller_id', name=op.f('ck_appeals_reviewer_not_a_party')),
    sa.CheckConstraint('reviewer_id <> original_decider_id', name=op.f('ck_appeals_reviewer_not_the_decider')),
    sa.ForeignKeyConstraint(['buyer_id'], ['users.id'], name=op.f('fk_appeals_buyer_id_users')),
    sa.ForeignKeyConstraint(['claim_id', 'original_decider_id'], ['claims.id', 'claims.decided_by_id'], name='fk_appeals_claim_decider'),
    sa.ForeignKeyConstraint(['claim_id'], ['claims.id'], name=op.f('fk_appeals_claim_id_claims')),
    sa.ForeignKeyConstraint(['discussion_id', 'original_decider_id'], ['discussions.id', 'discussions.decided_by_id'], name='fk_appeals_verdict_decider'),
    sa.ForeignKeyConstraint(['discussion_id'], ['discussions.id'], name=op.f('fk_appeals_discussion_id_discussions')),
    sa.ForeignKeyConstraint(['order_id', 'buyer_id', 'seller_id'], ['orders.id', 'orders.buyer_id', 'orders.seller_id'], name='fk_appeals_order_parties'),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_appeals_order_id_orders')),
    sa.ForeignKeyConstraint(['original_decider_id'], ['users.id'], name=op.f('fk_appeals_original_decider_id_users')),
    sa.ForeignKeyConstraint(['reviewer_id'], ['users.id'], name=op.f('fk_appeals_reviewer_id_users')),
    sa.ForeignKeyConstraint(['seller_id'], ['users.id'], name=op.f('fk_appeals_seller_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_appeals'))
    )
    with op.batch_alter_table('appeals', schema=None) as batch_op:
        batch_op.create_index('ix_appeals_order', ['order_id', 'id'], unique=False)
        batch_op.create_index('ix_appeals_queue', ['state', 'filed_at', 'id'], unique=False)
        batch_op.create_index('uq_appeals_claim_appellant', ['claim_id', 'appellant'], unique=True, sqlite_where=sa.text('claim_id IS NOT NULL'), postgresql_where=sa.text('claim_id IS NOT NULL'))
        batch_op.create_index('uq_appeals_verdict_appellant', ['discussion_id', 'appellant'], unique=True, sqlite_where=sa.text('discussion_id IS NOT NULL'), postgresql_where=sa.text('discussion_id IS NOT NULL'))

    op.create_table('appeal_evidence_reads',
    sa.Column('appeal_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('item', sa.String(length=64), nullable=False),
    sa.Column('read_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('read_at', arbiter.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['appeal_id'], ['appeals.id'], name=op.f('fk_appeal_evidence_reads_appeal_id_appeals')),
    sa.ForeignKeyConstraint(['read_by_id'], ['users.id'], name=op.f('fk_appeal_evidence_reads_read_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_appeal_evidence_reads'))
    )
    with op.batch_alter_table('appeal_evidence_reads', schema=None) as batch_op:
        batch_op.create_index('uq_appeal_evidence_reads_item', ['appeal_id', 'item'], unique=True)

    op.create_table('appeal_files',
    sa.Column('appeal_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('party', sa.Enum('buyer', 'seller', name='appeal_file_party', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('filename', sa.String(length=120), nullable=False, comment='as shown (sanitised)'),
    sa.Column('content_type', sa.String(length=40), nullable=False),
    sa.Column('size', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('storage_key', sa.String(length=64), nullable=False),
    sa.Column('uploaded_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', arbiter.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['appeal_id'], ['appeals.id'], name=op.f('fk_appeal_files_appeal_id_appeals')),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['users.id'], name=op.f('fk_appeal_files_uploaded_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_appeal_files')),
    sa.UniqueConstraint('storage_key', name=op.f('uq_appeal_files_storage_key'))
    )
    with op.batch_alter_table('appeal_files', schema=None) as batch_op:
        batch_op.create_index('ix_appeal_files_appeal', ['appeal_id', 'id'], unique=False)

    with op.batch_alter_table('payouts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('appeal_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True, comment="An appeal that raised the claim's amount: this pays the difference"))
        batch_op.drop_constraint(batch_op.f('uq_payouts_claim_id'), type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_payouts_appeal_id'), ['appeal_id'])
        batch_op.create_index('uq_payouts_claim', ['claim_id'], unique=True, sqlite_where=sa.text('appeal_id IS NULL'), postgresql_where=sa.text('appeal_id IS NULL'))
        batch_op.create_foreign_key(batch_op.f('fk_payouts_appeal_id_appeals'), 'appeals', ['appeal_id'], ['id'])

    with op.batch_alter_table('settlements', schema=None) as batch_op:
        batch_op.add_column(sa.Column('appeal_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch_op.create_index('uq_settlements_appeal_kind', ['appeal_id', 'kind'], unique=True, sqlite_where=sa.text('appeal_id IS NOT NULL'), postgresql_where=sa.text('appeal_id IS NOT NULL'))
        batch_op.create_foreign_key(batch_op.f('fk_settlements_appeal_id_appeals'), 'appeals', ['appeal_id'], ['id'])
    _checks(NEW)


def downgrade():
    if op.get_bind().execute(sa.text("SELECT COUNT(*) FROM appeals")).scalar():
        raise RuntimeError(
            "Downgrade below 0017 changed nothing: appeals exist, and their decisions, files "
            "and ledger rows have no place in the older schema.")
    _checks(OLD)
    with op.batch_alter_table('settlements', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_settlements_appeal_id_appeals'), type_='foreignkey')
        batch_op.drop_index('uq_settlements_appeal_kind', sqlite_where=sa.text('appeal_id IS NOT NULL'), postgresql_where=sa.text('appeal_id IS NOT NULL'))
        batch_op.drop_column('appeal_id')

    with op.batch_alter_table('payouts', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_payouts_appeal_id_appeals'), type_='foreignkey')
        batch_op.drop_index('uq_payouts_claim', sqlite_where=sa.text('appeal_id IS NULL'), postgresql_where=sa.text('appeal_id IS NULL'))
        batch_op.drop_constraint(batch_op.f('uq_payouts_appeal_id'), type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_payouts_claim_id'), ['claim_id'])
        batch_op.drop_column('appeal_id')

    with op.batch_alter_table('appeal_files', schema=None) as batch_op:
        batch_op.drop_index('ix_appeal_files_appeal')

    op.drop_table('appeal_files')
    with op.batch_alter_table('appeal_evidence_reads', schema=None) as batch_op:
        batch_op.drop_index('uq_appeal_evidence_reads_item')

    op.drop_table('appeal_evidence_reads')
    with op.batch_alter_table('appeals', schema=None) as batch_op:
        batch_op.drop_index('uq_appeals_verdict_appellant', sqlite_where=sa.text('discussion_id IS NOT NULL'), postgresql_where=sa.text('discussion_id IS NOT NULL'))
        batch_op.drop_index('uq_appeals_claim_appellant', sqlite_where=sa.text('claim_id IS NOT NULL'), postgresql_where=sa.text('claim_id IS NOT NULL'))
        batch_op.drop_index('ix_appeals_queue')
        batch_op.drop_index('ix_appeals_order')

    op.drop_table('appeals')
    with op.batch_alter_table('discussions', schema=None) as batch_op:
        batch_op.drop_index('uq_discussions_decider')

    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.drop_index('uq_claims_decider')
