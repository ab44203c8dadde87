"""API tokens and stored API answers in account deletion.

A deletion revokes every API token of the person and deletes their idempotency keys (the
stored answers of their API requests). Neither is in the data export: tokens are left out
on purpose (:mod:`accounts.exports`), and a stored answer lives for 24 hours only, to
replay a retried request.
"""

from sqlalchemy import delete

from accounts.models import User
from accounts.personal_data import register
from arbiter.extensions import db
from integrations import tokens
from integrations.models import IdempotencyKey


def erase(user: User) -> dict[str, int]:
    db.session.execute(delete(IdempotencyKey).where(IdempotencyKey.owner == f"user:{user.id}"))
    return {"api_tokens_revoked": tokens.revoke_all_of(user)}

register("integrations", erase=erase)
