"""the seller answers claims: the seller's window, statement and evidence

A claim gets ``seller_answer_due_at`` (filing + CLAIM_SELLER_ANSWER_HOURS, 48 h by default;
incidents move it), ``seller_answered_at`` and ``seller_statement``, with CHECKs that tie
them together. Claim documents get the kind ``seller_evidence``, and deadline extensions
the kind ``claim.seller_answer_due_at``.

Existing claims get ``seller_answer_due_at = submitted_at + 48 hours``: the rule as it
would have run. Their sellers were never told (nothing notified them before this change),
so on a claim filed less than 48 h before the upgrade the seller may still answer; older
ones are past their window, and staff decide them as before.

The downgrade refuses to drop sellers' answers silently: it stops when a claim document of
kind ``seller_evidence`` or an extension of a seller's window exists (delete them first,
on purpose); statements are dropped with their columns.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 19:08:25.552879

"""
import sqlalchemy as sa
from alembic import op

import arbiter.db  # noqa: F401 - custom column types

# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

HOURS = 48
OLD_DOCUMENT_KINDS = ('police_report', 'supporting', 'requested')
NEW_DOCUMENT_KINDS = OLD_DOCUMENT_KINDS + ('seller_evidence',)
OLD_DEADLINE_KINDS = ('discussion.respond_by', 'discussion.escalation_available_at',
                      'information_request.due_at', 'document_request.due_at',
                      'order.filing_window')
NEW_DEADLINE_KINDS = OLD_DEADLINE_KINDS + ('claim.seller_answer_due_at',)
CHECKS = {
    'seller_answer_due_after_filing': 'seller_answer_due_at >= submitted_at',
    'seller_statement_iff_answered':
        '(seller_answered_at IS NULL) = (seller_statement IS NULL)',
    'seller_statement_length':
        'seller_statement IS NULL OR length(seller_statement) BETWEEN 1 AND 20000',
    'seller_answered_within_window':
        'seller_answered_at IS NULL OR (seller_answered_at >= submitted_at '
        'AND seller_answered_at <= seller_answer_due_at)',
}


def _in(values):
    return ', '.join(f"'{value}'" for value in values)


def _plus_hours(column, hours):
    """``column`` + ``hours`` hours, in the engine's SQL (SQLite keeps the microseconds)."""
    if op.get_bind().dialect.name == 'sqlite':
        return f"(datetime({column}, '+{hours} hours') || substr({column}, 20))"
    return f"({column} + interval '{hours} hours')"


def _enum_check(table, name, column, values):
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.drop_constraint(op.f(f'ck_{table}_{name}'), type_='check')
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.create_check_constraint(op.f(f'ck_{table}_{name}'),
                                         f'{column} IN ({_in(values)})')


def upgrade():
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seller_answer_due_at', arbiter.db.UTCDateTime(timezone=True), nullable=True, comment='Until when the seller may answer (filing + CLAIM_SELLER_ANSWER_HOURS, moved by incidents); staff decide after it or after the answer'))
        batch_op.add_column(sa.Column('seller_answered_at', arbiter.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('seller_statement', sa.Text(), nullable=True, comment="The seller's answer to the claim, in their words"))
    op.execute(f"UPDATE claims SET seller_answer_due_at = {_plus_hours('submitted_at', HOURS)}")
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.alter_column('seller_answer_due_at', existing_type=arbiter.db.UTCDateTime(timezone=True), nullable=False, existing_comment='Until when the seller may answer (filing + CLAIM_SELLER_ANSWER_HOURS, moved by incidents); staff decide after it or after the answer')
        for name, condition in CHECKS.items():
            batch_op.create_check_constraint(op.f(f'ck_claims_{name}'), condition)
    _enum_check('claim_documents', 'documentkind', 'kind', NEW_DOCUMENT_KINDS)
    _enum_check('deadline_extensions', 'deadlinekind', 'deadline_kind', NEW_DEADLINE_KINDS)


def downgrade():
    bind = op.get_bind()
    answers = bind.execute(sa.text(
        "SELECT count(*) FROM claim_documents WHERE kind = 'seller_evidence'")).scalar()
    extended = bind.execute(sa.text(
        "SELECT count(*) FROM deadline_extensions "
        "WHERE deadline_kind = 'claim.seller_answer_due_at'")).scalar()
    if answers or extended:
        raise RuntimeError(
            f"0016 downgrade stopped: {answers} seller evidence document(s) and {extended} "
            "extension(s) of a seller's window exist; 0015 has no place for them.")
    _enum_check('deadline_extensions', 'deadlinekind', 'deadline_kind', OLD_DEADLINE_KINDS)
    _enum_check('claim_documents', 'documentkind', 'kind', OLD_DOCUMENT_KINDS)
    with op.batch_alter_table('claims', schema=None) as batch_op:
        for name in CHECKS:
            batch_op.drop_constraint(op.f(f'ck_claims_{name}'), type_='check')
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.drop_column('seller_statement')
        batch_op.drop_column('seller_answered_at')
        batch_op.drop_column('seller_answer_due_at')
