"""API tokens and stored API answers in account deletion.

A deletion revokes every API token of the person and deletes their idempotency keys (the
stored answers of their API requests). Neither is in the data export: tokens are left out
on purpose (:mod:`accounts.exports`), and a stored answer lives for 24 hours only, to
replay a retried request.
"""

from sqlalchemy import delete, select

from accounts.models import User
from accounts.personal_data import register
from arbiter.extensions import db
from integrations import tokens
from integrations.models import ApiToken, IdempotencyKey, TokenKind


def erase(user: User) -> dict[str, int]:
    live_tokens = db.session.scalars(select(ApiToken).where(
        ApiToken.kind == TokenKind.USER, ApiToken.user_id == user.id,
        ApiToken.revoked_at.is_(None))).all()
    for token in live_tokens:
        tokens.revoke(token)
    db.session.execute(delete(IdempotencyKey).where(IdempotencyKey.owner == f"user:{user.id}"))
    return {"api_tokens_revoked": len(live_tokens)}


register("integrations", erase=erase)
