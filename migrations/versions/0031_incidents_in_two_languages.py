"""incident titles, impacts and updates in Polish and English (#22 item 13)

Staff wrote incidents in one language, and every incident so far was written in Polish
(the platform's default language, as the demo data and the production texts show). The
existing columns become the Polish ones (``title_pl``, ``impact_pl``, ``body_pl``) and
keep their text; the English ones are new and optional: readers of English see the Polish
text with a note while staff have not written it.

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-06 01:30:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0031'
down_revision = '0030'
branch_labels = None
depends_on = None

# table -> [(old column, Polish column, English column, type, maximum, comment)]
COLUMNS = {
    'incidents': [
        ('title', 'title_pl', 'title_en', sa.String(length=200), 200,
         'Public: shown on /status'),
        ('impact', 'impact_pl', 'impact_en', sa.Text(), 5000, 'Public: what users cannot do'),
    ],
    'incident_updates': [
        ('body', 'body_pl', 'body_en', sa.Text(), 5000, 'Public'),
    ],
}


def upgrade():
    for table, columns in COLUMNS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for old, polish, english, type_, maximum, comment in columns:
                batch_op.drop_constraint(op.f(f'ck_{table}_{old}_length'), type_='check')
                batch_op.alter_column(old, new_column_name=polish, existing_type=type_,
                                      existing_nullable=False, existing_comment=comment,
                                      comment=f'{comment} (Polish, required)')
                batch_op.add_column(sa.Column(english, type_, nullable=True,
                                              comment=f'{comment} (English, optional)'))
        with op.batch_alter_table(table, schema=None) as batch_op:
            for old, polish, english, type_, maximum, comment in columns:
                batch_op.create_check_constraint(
                    op.f(f'ck_{table}_{polish}_length'),
                    f'length({polish}) BETWEEN 1 AND {maximum}')
                batch_op.create_check_constraint(
                    op.f(f'ck_{table}_{english}_length'),
                    f'{english} IS NULL OR length({english}) BETWEEN 1 AND {maximum}')


def downgrade():
    for table, columns in COLUMNS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for old, polish, english, type_, maximum, comment in columns:
                batch_op.drop_constraint(op.f(f'ck_{table}_{english}_length'), type_='check')
                batch_op.drop_constraint(op.f(f'ck_{table}_{polish}_length'), type_='check')
                batch_op.drop_column(english)
                batch_op.alter_column(polish, new_column_name=old, existing_type=type_,
                                      existing_nullable=False,
                                      existing_comment=f'{comment} (Polish, required)',
                                      comment=comment)
        with op.batch_alter_table(table, schema=None) as batch_op:
            for old, polish, english, type_, maximum, comment in columns:
                batch_op.create_check_constraint(op.f(f'ck_{table}_{old}_length'),
                                                 f'length({old}) BETWEEN 1 AND {maximum}')
