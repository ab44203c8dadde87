"""policy versions carry the seller's answer window, the appeal window and the documents
required per claim type

``policy_versions`` gains ``seller_answer_hours`` (how long the seller may answer a claim;
it was the setting CLAIM_SELLER_ANSWER_HOURS) and ``appeal_window_days`` (how long a
claim decision may be appealed; it was APPEAL_WINDOW_DAYS, which stays the setting for
verdicts on discussions). Existing versions get the values those settings had: 48 h and
30 days.

``police_report_required_for`` (a list of claim types) becomes ``documents_required``, a
mapping of claim type to the document kinds a claim must bring when filed
(``police_report``, ``supporting``): each type that needed a police report now requires
``["police_report"]``. The downgrade turns it back into the list of types requiring a
police report; a requirement of supporting documents has no column to go to and is lost.

Revision ID: 0035
Revises: 0034
Create Date: 2026-12-06 04:50:00

"""
import sqlalchemy as sa
from alembic import op

import arbiter.db  # noqa: F401 - custom column types

# revision identifiers, used by Alembic.
revision = '0035'
down_revision = '0034'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
CHECKS = {
    'seller_answer_not_negative': 'seller_answer_hours >= 0',
    'appeal_window_positive': 'appeal_window_days > 0',
}
# The settings' values when the windows moved into the versions.
SELLER_ANSWER_HOURS = 48
APPEAL_WINDOW_DAYS = 30
DOCUMENTS_COMMENT = ('What a claim must bring when filed: claim type code -> document kind '
                     'codes (police_report, supporting); types not named need nothing')
POLICE_COMMENT = 'Claim type codes that need a police-report acknowledgement'
DUE_COMMENT_BEFORE = ('Until when the seller may answer (filing + CLAIM_SELLER_ANSWER_HOURS, '
                      'moved by incidents); staff decide after it or after the answer')
DUE_COMMENT_AFTER = ("Until when the seller may answer (filing + the policy version's "
                     "seller_answer_hours, moved by incidents); staff decide after it or "
                     "after the answer")

versions = sa.table('policy_versions', sa.column('id', ID),
                    sa.column('police_report_required_for', sa.JSON()),
                    sa.column('documents_required', sa.JSON()))


def _rewrite(source: str, target: str, convert) -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.select(versions.c.id, versions.c[source])).all()
    for version_id, value in rows:
        connection.execute(versions.update().where(versions.c.id == version_id)
                           .values({target: convert(value)}))


def upgrade():
    with op.batch_alter_table('policy_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            'seller_answer_hours', ID, nullable=False,
            server_default=sa.text(str(SELLER_ANSWER_HOURS)),
            comment='Hours after filing during which the seller may answer a claim'))
        batch_op.add_column(sa.Column(
            'appeal_window_days', ID, nullable=False,
            server_default=sa.text(str(APPEAL_WINDOW_DAYS)),
            comment='Days (of 24 h) after a claim decision during which a party may appeal it'))
        batch_op.add_column(sa.Column('documents_required', sa.JSON(), nullable=True,
                                      comment=DOCUMENTS_COMMENT))
    _rewrite('police_report_required_for', 'documents_required',
             lambda types: {claim_type: ['police_report'] for claim_type in sorted(types or [])})
    with op.batch_alter_table('policy_versions', schema=None) as batch_op:
        # The defaults were for the existing rows only: a new version states its windows.
        batch_op.alter_column('seller_answer_hours', existing_type=ID, server_default=None,
                              existing_nullable=False)
        batch_op.alter_column('appeal_window_days', existing_type=ID, server_default=None,
                              existing_nullable=False)
        batch_op.alter_column('documents_required', existing_type=sa.JSON(), nullable=False,
                              existing_comment=DOCUMENTS_COMMENT)
        batch_op.drop_column('police_report_required_for')
        for name, condition in CHECKS.items():
            batch_op.create_check_constraint(op.f(f'ck_policy_versions_{name}'), condition)
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.alter_column('seller_answer_due_at',
                              existing_type=arbiter.db.UTCDateTime(timezone=True),
                              existing_nullable=False, comment=DUE_COMMENT_AFTER,
                              existing_comment=DUE_COMMENT_BEFORE)


def downgrade():
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.alter_column('seller_answer_due_at',
                              existing_type=arbiter.db.UTCDateTime(timezone=True),
                              existing_nullable=False, comment=DUE_COMMENT_BEFORE,
                              existing_comment=DUE_COMMENT_AFTER)
    with op.batch_alter_table('policy_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('police_report_required_for', sa.JSON(), nullable=True,
                                      comment=POLICE_COMMENT))
    _rewrite('documents_required', 'police_report_required_for',
             lambda required: sorted(claim_type for claim_type, kinds in required.items()
                                     if 'police_report' in kinds) if required else [])
    with op.batch_alter_table('policy_versions', schema=None) as batch_op:
        batch_op.alter_column('police_report_required_for', existing_type=sa.JSON(),
                              nullable=False, existing_comment=POLICE_COMMENT)
        for name in CHECKS:
            batch_op.drop_constraint(op.f(f'ck_policy_versions_{name}'), type_='check')
        batch_op.drop_column('documents_required')
        batch_op.drop_column('appeal_window_days')
        batch_op.drop_column('seller_answer_hours')
