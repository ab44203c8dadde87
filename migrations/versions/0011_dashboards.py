"""dashboards: indexes for the staff dashboard's metrics and the seller profile

Discussions opened per day and the weekly rates range over discussions.opened_at; the
seller profile over (seller_id, opened_at); claims paid per orders counts orders by
paid_at. Without these, each chart reads every row of a large table.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-22 15:00:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('discussions', schema=None) as batch_op:
        batch_op.create_index('ix_discussions_opened_at', ['opened_at'], unique=False)
        batch_op.create_index('ix_discussions_seller_opened', ['seller_id', 'opened_at'],
                              unique=False)
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index('ix_orders_paid_at', ['paid_at'], unique=False)


def downgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index('ix_orders_paid_at')
    with op.batch_alter_table('discussions', schema=None) as batch_op:
        batch_op.drop_index('ix_discussions_seller_opened')
        batch_op.drop_index('ix_discussions_opened_at')
