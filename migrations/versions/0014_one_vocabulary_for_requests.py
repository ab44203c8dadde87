"""one vocabulary for staff's requests to a party (arbiter.party_requests)

Information requests (discussions) and document requests (claims) are the same thing: a
request of staff to a party, due by a deadline. They now share their columns and rules:
document requests' ``fulfilled_at`` becomes ``answered_at`` and ``overdue_at`` becomes
``overdue_notified_at``, as on information requests; both tables get the check
``answered_after_request`` (document requests had it as ``fulfilled_after_request``) and
the shared column comments. The JSON API keeps the published name ``fulfilled_at``.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 02:20:00.000000

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

COMMENTS = {
    'buyer_id': "= the case's buyer_id",
    'seller_id': "= the case's seller_id",
    'due_at': 'requested_at + its window (+ extensions)',
    'overdue_notified_at': 'when the sweeper found it unanswered past due_at and told the advisor',
}
OLD_COMMENTS = {
    'document_requests': {
        'buyer_id': '= claim.buyer_id', 'seller_id': '= claim.seller_id',
        'due_at': 'requested_at + 7 days (+ extensions)',
        'overdue_notified_at': 'when the sweeper found it unanswered past due_at: ready for rejection',
    },
    'information_requests': {
        'buyer_id': '= discussion.buyer_id', 'seller_id': '= discussion.seller_id',
        'due_at': 'requested_at + 72 h (+ extensions)',
        'overdue_notified_at': 'when staff were told the deadline passed unanswered',
    },
}


def _comment(batch_op, table, comments, old):
    import sqlalchemy as sa

    types = {'buyer_id': sa.BigInteger(), 'seller_id': sa.BigInteger()}
    for column, comment in comments.items():
        batch_op.alter_column(column, comment=comment, existing_comment=old[column],
                              existing_type=types.get(column, sa.DateTime(timezone=True)),
                              existing_nullable=column == 'overdue_notified_at')


def upgrade():
    with op.batch_alter_table('document_requests', schema=None) as batch_op:
        batch_op.drop_index(op.f('ix_document_requests_open'))
        batch_op.drop_constraint(op.f('ck_document_requests_fulfilled_after_request'), type_='check')
        batch_op.alter_column('fulfilled_at', new_column_name='answered_at')
        batch_op.alter_column('overdue_at', new_column_name='overdue_notified_at')
    with op.batch_alter_table('document_requests', schema=None) as batch_op:
        batch_op.create_check_constraint(
            op.f('ck_document_requests_answered_after_request'),
            'answered_at IS NULL OR answered_at >= requested_at')
        batch_op.create_index(op.f('ix_document_requests_open'), ['claim_id', 'answered_at'],
                              unique=False)
        _comment(batch_op, 'document_requests', COMMENTS, OLD_COMMENTS['document_requests'])
    with op.batch_alter_table('information_requests', schema=None) as batch_op:
        batch_op.create_check_constraint(
            op.f('ck_information_requests_answered_after_request'),
            'answered_at IS NULL OR answered_at >= requested_at')
        _comment(batch_op, 'information_requests', COMMENTS,
                 OLD_COMMENTS['information_requests'])


def downgrade():
    with op.batch_alter_table('information_requests', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_information_requests_answered_after_request'),
                                 type_='check')
        _comment(batch_op, 'information_requests', OLD_COMMENTS['information_requests'],
                 COMMENTS)
    with op.batch_alter_table('document_requests', schema=None) as batch_op:
        batch_op.drop_index(op.f('ix_document_requests_open'))
        batch_op.drop_constraint(op.f('ck_document_requests_answered_after_request'), type_='check')
        _comment(batch_op, 'document_requests', OLD_COMMENTS['document_requests'], COMMENTS)
    with op.batch_alter_table('document_requests', schema=None) as batch_op:
        batch_op.alter_column('answered_at', new_column_name='fulfilled_at')
        batch_op.alter_column('overdue_notified_at', new_column_name='overdue_at')
    with op.batch_alter_table('document_requests', schema=None) as batch_op:
        batch_op.create_check_constraint(
            op.f('ck_document_requests_fulfilled_after_request'),
            'fulfilled_at IS NULL OR fulfilled_at >= requested_at')
        batch_op.create_index(op.f('ix_document_requests_open'), ['claim_id', 'fulfilled_at'],
                              unique=False)
