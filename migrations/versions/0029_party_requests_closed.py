"""staff's requests to a party are closed when the case moves on without the answer

``information_requests.closed_at`` and ``document_requests.closed_at``
(arbiter.party_requests): a verdict, a claim approved on the order, the buyer closing the
discussion, a claim decided or withdrawn while a request was unanswered closes it, so no
page asks for an answer nobody waits for (#22 item 4). Check ``answered_or_closed``: a
request is answered or closed, never both. Requests already left unanswered on an ended
case are closed at the case's last activity (discussions) or its decision or withdrawal
(claims).

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-06 01:10:00

"""
import sqlalchemy as sa
from alembic import op

import arbiter.db

# revision identifiers, used by Alembic.
revision = '0029'
down_revision = '0028'
branch_labels = None
depends_on = None

COMMENT = 'when the case moved on without the answer; no longer awaited'


def upgrade():
    for table in ('information_requests', 'document_requests'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('closed_at', arbiter.db.UTCDateTime(timezone=True),
                                          nullable=True, comment=COMMENT))
            batch_op.create_check_constraint(op.f(f'ck_{table}_answered_or_closed'),
                                             'answered_at IS NULL OR closed_at IS NULL')
    op.execute(
        "UPDATE information_requests SET closed_at = (SELECT d.last_activity_at"
        " FROM discussions d WHERE d.id = information_requests.discussion_id)"
        " WHERE answered_at IS NULL AND EXISTS (SELECT 1 FROM discussions d"
        " WHERE d.id = information_requests.discussion_id AND d.state <> 'escalated')")
    op.execute(
        "UPDATE document_requests SET closed_at = (SELECT COALESCE(c.decided_at,"
        " c.withdrawn_at, document_requests.due_at) FROM claims c"
        " WHERE c.id = document_requests.claim_id)"
        " WHERE answered_at IS NULL AND EXISTS (SELECT 1 FROM claims c"
        " WHERE c.id = document_requests.claim_id AND c.state <> 'awaiting_documents')")


def downgrade():
    for table in ('document_requests', 'information_requests'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(op.f(f'ck_{table}_answered_or_closed'), type_='check')
            batch_op.drop_column('closed_at')
