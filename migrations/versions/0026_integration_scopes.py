"""integration scopes and ownership; webhook failures as categories (issue 25 items 6, 7)

``api_tokens.scopes``: what an integration token may do (space-separated). Integration
tokens that exist get every scope, so nothing they did stops working; user tokens have
none (NULL), which a CHECK ties to the kind.

``webhook_endpoints.integration`` and ``orders.integration``: the integration (its token
name, which survives rotating the token) that registered the endpoint or pushed the order
and alone manages it. Endpoints take the name of the token that registered them. Orders:
when exactly one integration ever had a token, every order is its own; otherwise they stay
NULL (the first integration that updates one takes it, as for orders staff imported).

``webhook_deliveries.last_error`` (raw error text, which could name internal addresses)
becomes ``last_failure``, a category.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-06 01:20:00

"""
import sqlalchemy as sa
from alembic import op

import arbiter.db  # noqa: F401 - custom column types

# revision identifiers, used by Alembic.
revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None

ALL_SCOPES = ("cases:read events:read orders:read orders:write recoveries:read "
              "settlements:write webhooks:manage")
FAILURES = ('connection_refused', 'timeout', 'tls_error', 'refused_address', 'dns_error',
            'connection_error', 'redirect', 'http_4xx', 'http_5xx')


def upgrade():
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            'scopes', sa.String(length=300), nullable=True,
            comment='integration tokens: their scopes, space-separated, sorted'))
    op.execute(sa.text("UPDATE api_tokens SET scopes = :scopes WHERE kind = 'integration'")
               .bindparams(scopes=ALL_SCOPES))
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.create_check_constraint(
            op.f('ck_api_tokens_scopes_iff_integration_token'),
            "(kind = 'integration') = (scopes IS NOT NULL)")

    with op.batch_alter_table('webhook_endpoints', schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            'integration', sa.String(length=100), nullable=True,
            comment='the integration (token name) that registered it and alone manages it'))
        batch_op.create_index(batch_op.f('ix_webhook_endpoints_integration'), ['integration'],
                              unique=False)
    op.execute("UPDATE webhook_endpoints SET integration = (SELECT api_tokens.name FROM "
               "api_tokens WHERE api_tokens.id = webhook_endpoints.created_by_token_id)")

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            'integration', sa.String(length=100), nullable=True,
            comment='the integration (token name) that pushed it and alone changes it over '
                    'the API; NULL: imported by staff'))
    names = op.get_bind().execute(sa.text(
        "SELECT DISTINCT name FROM api_tokens WHERE kind = 'integration'")).scalars().all()
    if len(names) == 1:
        op.execute(sa.text("UPDATE orders SET integration = :name").bindparams(name=names[0]))

    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            'last_failure', sa.Enum(*FAILURES, name='deliveryfailure', native_enum=False,
                                    create_constraint=True, length=32),
            nullable=True, comment='why the last try failed (a category)'))
    op.execute("""
        UPDATE webhook_deliveries SET last_failure = CASE
          WHEN last_error IS NULL THEN NULL
          WHEN last_error IN ('connection_refused', 'timeout', 'tls_error', 'refused_address',
                              'dns_error', 'connection_error', 'redirect', 'http_4xx',
                              'http_5xx') THEN last_error
          WHEN last_error LIKE 'HTTP 5%' THEN 'http_5xx'
          WHEN last_error LIKE 'HTTP 3%' THEN 'redirect'
          WHEN last_error LIKE 'HTTP %' THEN 'http_4xx'
          WHEN lower(last_error) LIKE '%refused%' THEN 'connection_refused'
          WHEN lower(last_error) LIKE '%timed out%' THEN 'timeout'
          WHEN lower(last_error) LIKE '%ssl%' OR lower(last_error) LIKE '%certificate%'
            THEN 'tls_error'
          WHEN lower(last_error) LIKE '%name or service%' THEN 'dns_error'
          ELSE 'connection_error' END
    """)
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_column('last_error')


def downgrade():
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_error', sa.String(length=500), nullable=True))
    op.execute("UPDATE webhook_deliveries SET last_error = last_failure")
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_webhook_deliveries_deliveryfailure'), type_='check')
        batch_op.drop_column('last_failure')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_column('integration')
    with op.batch_alter_table('webhook_endpoints', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_endpoints_integration'))
        batch_op.drop_column('integration')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_api_tokens_scopes_iff_integration_token'),
                                 type_='check')
        batch_op.drop_column('scopes')
