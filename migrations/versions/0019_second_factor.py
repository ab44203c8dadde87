"""second factor: staff sign in with a TOTP authenticator and recovery codes

``second_factors`` holds each person's TOTP secret (pending until they type a first code)
and the time step of the last code accepted (no replay); ``recovery_codes`` the SHA-256 of
their ten single-use recovery codes; ``user_sessions.second_factor_at`` when a session
passed the second factor (a staff session without it reaches only the second-factor pages).

Nobody is enrolled yet, so every staff member enrols at their next login. The API tokens
staff hold were issued without a second factor: they are revoked (a staff member asks for
a new one with a code from their authenticator).

The downgrade drops the tables and the column; the revoked tokens stay revoked (nothing
says which ones the upgrade revoked, and a token is never brought back to life).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05 22:15:00

"""
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import arbiter.db

# revision identifiers, used by Alembic.
revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
WHEN = arbiter.db.UTCDateTime(timezone=True)


def upgrade():
    op.create_table(
        'second_factors',
        sa.Column('user_id', ID, nullable=False),
        sa.Column('secret', sa.String(length=64), nullable=False,
                  comment='base32 TOTP secret (160 bits)'),
        sa.Column('created_at', WHEN, nullable=False, comment='when the secret was shown'),
        sa.Column('confirmed_at', WHEN, nullable=True,
                  comment='when its owner typed a first code; empty: enrolment not finished'),
        sa.Column('last_step', ID, nullable=True,
                  comment='time step (unix time // 30) of the last accepted code'),
        sa.CheckConstraint('confirmed_at IS NOT NULL OR last_step IS NULL',
                           name=op.f('ck_second_factors_steps_once_confirmed')),
        sa.CheckConstraint('last_step IS NULL OR last_step >= 0',
                           name=op.f('ck_second_factors_step_not_negative')),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'],
                                name=op.f('fk_second_factors_user_id_users'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('user_id', name=op.f('pk_second_factors')),
    )
    op.create_table(
        'recovery_codes',
        sa.Column('id', ID, autoincrement=True, nullable=False),
        sa.Column('user_id', ID, nullable=False),
        sa.Column('code_hash', sa.String(length=64), nullable=False,
                  comment='SHA-256 of the code'),
        sa.Column('created_at', WHEN, nullable=False),
        sa.Column('used_at', WHEN, nullable=True, comment='empty: still usable'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'],
                                name=op.f('fk_recovery_codes_user_id_users'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_recovery_codes')),
        sa.UniqueConstraint('user_id', 'code_hash', name='uq_recovery_codes_user_code'),
    )
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            'second_factor_at', WHEN, nullable=True,
            comment='when this session passed the second factor; a staff session without it '
                    'reaches only the second-factor pages (accounts.second_factor)'))
    op.execute(sa.text(
        "UPDATE api_tokens SET revoked_at = :now WHERE kind = 'user' AND revoked_at IS NULL "
        "AND user_id IN (SELECT user_id FROM staff_roles)"
    ).bindparams(sa.bindparam('now', datetime.now(UTC), type_=WHEN)))


def downgrade():
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.drop_column('second_factor_at')
    op.drop_table('recovery_codes')
    op.drop_table('second_factors')
