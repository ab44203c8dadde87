"""e-mail verification: ``users.verified_at`` and ``email_verifications`` (issue 25 item 2)

Orders attach to an account by its e-mail address only once its owner opened the e-mailed
link (``verified_at``). Every account that exists when this runs counts as verified:
``verified_at`` is set to its ``created_at`` (the accounts were made by the command line,
the demo seed or registrations the platform already trusted). ``email_verifications``:
single-use links valid 24 hours, only the SHA-256 of the token stored, at most one pending
per account.

The downgrade drops the table and the column (who verified when is lost; the audit log
keeps it).

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-06 01:10:00

"""
import sqlalchemy as sa
from alembic import op

import arbiter.db  # noqa: F401 - custom column types

# revision identifiers, used by Alembic.
revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
PENDING = "used_at IS NULL AND revoked_at IS NULL"


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            'verified_at', arbiter.db.UTCDateTime(timezone=True), nullable=True,
            comment='When the owner of the address opened the e-mailed link (accounts.'
                    'verification); empty: orders do not attach and only the account pages '
                    'open'))
    op.execute("UPDATE users SET verified_at = created_at")
    op.create_table(
        'email_verifications',
        sa.Column('id', ID, nullable=False),
        sa.Column('user_id', ID, nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False,
                  comment='SHA-256 of token'),
        sa.Column('created_at', arbiter.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('expires_at', arbiter.db.UTCDateTime(timezone=True), nullable=False,
                  comment='created_at + 24 hours'),
        sa.Column('used_at', arbiter.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('revoked_at', arbiter.db.UTCDateTime(timezone=True), nullable=True,
                  comment='replaced by a newer link'),
        sa.CheckConstraint('expires_at > created_at',
                           name=op.f('ck_email_verifications_expires_after_creation')),
        sa.CheckConstraint('used_at IS NULL OR revoked_at IS NULL',
                           name=op.f('ck_email_verifications_used_or_revoked')),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'],
                                name=op.f('fk_email_verifications_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_email_verifications')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_email_verifications_token_hash')),
    )
    op.create_index('uq_email_verifications_pending_user', 'email_verifications', ['user_id'],
                    unique=True, sqlite_where=sa.text(PENDING),
                    postgresql_where=sa.text(PENDING))


def downgrade():
    op.drop_index('uq_email_verifications_pending_user', table_name='email_verifications')
    op.drop_table('email_verifications')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('verified_at')
