"""performance indexes: the seller inbox reads only open discussions

The inbox lists a seller's open discussions, nearest answer deadline first. With the
general index (seller_id, respond_by, id) it walks past every resolved and closed
discussion of the seller, and those hold the oldest deadlines: with 600,000 ended out of
1,000,000 the first page read 600,000 index entries (180 ms). The partial index holds the
open ones only, in the inbox's order.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-22 13:30:00.000000

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

OPEN = sa.text("state IN ('awaiting_seller', 'escalated', 'in_progress')")


def upgrade():
    with op.batch_alter_table('discussions', schema=None) as batch_op:
        batch_op.create_index('ix_discussions_seller_inbox_open', ['seller_id', 'respond_by', 'id'], unique=False, sqlite_where=OPEN, postgresql_where=OPEN)


def downgrade():
    with op.batch_alter_table('discussions', schema=None) as batch_op:
        batch_op.drop_index('ix_discussions_seller_inbox_open', sqlite_where=OPEN, postgresql_where=OPEN)
