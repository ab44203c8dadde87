"""staff management: deactivated accounts and staff invitations

``users.deactivated_at``: an administrator deactivated the account (no login, sessions and
API tokens revoked). ``staff_invitations``: e-mailed, single-use invitations (72 hours) to
join the staff with some roles; only the SHA-256 of the link's token is stored, and an
address has at most one pending invitation.

Nothing moves: the downgrade drops the table and the column (who was deactivated is lost;
the audit log keeps it).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05 22:00:00

"""
import sqlalchemy as sa
from alembic import op

import arbiter.db  # noqa: F401 - custom column types

# revision identifiers, used by Alembic.
revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
PENDING = "accepted_at IS NULL AND revoked_at IS NULL"


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            'deactivated_at', arbiter.db.UTCDateTime(timezone=True), nullable=True,
            comment='When an administrator deactivated the account (accounts.staff): no '
                    'login, no session, no API token until reactivated'))
    op.create_table(
        'staff_invitations',
        sa.Column('id', ID, nullable=False),
        sa.Column('email', sa.String(length=254), nullable=False),
        sa.Column('roles', sa.JSON(), nullable=False, comment='the staff roles to grant'),
        sa.Column('token_hash', sa.String(length=64), nullable=False,
                  comment='SHA-256 of token'),
        sa.Column('invited_by_id', ID, nullable=True),
        sa.Column('created_at', arbiter.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('expires_at', arbiter.db.UTCDateTime(timezone=True), nullable=False,
                  comment='created_at + 72 hours'),
        sa.Column('accepted_at', arbiter.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('accepted_user_id', ID, nullable=True),
        sa.Column('revoked_at', arbiter.db.UTCDateTime(timezone=True), nullable=True,
                  comment='replaced by a newer invitation or withdrawn by an administrator'),
        sa.CheckConstraint('email = lower(email)',
                           name=op.f('ck_staff_invitations_email_lowercase')),
        sa.CheckConstraint('expires_at > created_at',
                           name=op.f('ck_staff_invitations_expires_after_creation')),
        sa.CheckConstraint('accepted_user_id IS NULL OR accepted_at IS NOT NULL',
                           name=op.f('ck_staff_invitations_accepted_by_someone')),
        sa.CheckConstraint('accepted_at IS NULL OR revoked_at IS NULL',
                           name=op.f('ck_staff_invitations_accepted_or_revoked')),
        sa.ForeignKeyConstraint(['accepted_user_id'], ['users.id'],
                                name=op.f('fk_staff_invitations_accepted_user_id_users'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['invited_by_id'], ['users.id'],
                                name=op.f('fk_staff_invitations_invited_by_id_users'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_invitations')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_staff_invitations_token_hash')),
    )
    op.create_index('uq_staff_invitations_pending_email', 'staff_invitations', ['email'],
                    unique=True, sqlite_where=sa.text(PENDING),
                    postgresql_where=sa.text(PENDING))


def downgrade():
    op.drop_index('uq_staff_invitations_pending_email', table_name='staff_invitations')
    op.drop_table('staff_invitations')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('deactivated_at')
