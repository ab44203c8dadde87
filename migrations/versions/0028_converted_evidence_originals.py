"""evidence files record the SHA-256 of a converted original (issue 22 item 10)

A HEIC/HEIF photo is stored as the JPEG it was converted to on upload;
``original_sha256`` keeps the SHA-256 of the bytes the person uploaded. NULL for files
stored as uploaded (every file before this migration).

Revision ID: 0028
Revises: 0026
Create Date: 2026-12-06 01:20:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0028'
down_revision = '0026'
branch_labels = None
depends_on = None

EVIDENCE_TABLES = ('attachments', 'claim_documents', 'appeal_files')


def upgrade():
    for table in EVIDENCE_TABLES:
        op.add_column(table, sa.Column(
            'original_sha256', sa.String(length=64), nullable=True,
            comment='SHA-256 of the uploaded original when it was converted (a HEIC photo '
                    'stored as JPEG); NULL when stored as uploaded'))


def downgrade():
    for table in EVIDENCE_TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column('original_sha256')
