"""The integration's sweeper jobs (registered when the sweeper loads its jobs) and the
task that makes one webhook delivery attempt."""

from arbiter.sweeper import register
from arbiter.tasks import celery
from integrations import idempotency, webhooks

register("integrations.idempotency_keys_expired", idempotency.expired, idempotency.forget)
# Fan-out before delivery: an event that happened before this sweep goes out in it.
register("webhooks.fan_out", webhooks.endpoints_behind, webhooks.fan_out)
register("webhooks.deliver", webhooks.due_deliveries, webhooks.deliver)


@celery.task(name="integrations.deliver_webhook")
def deliver_webhook(delivery_id: int, attempts: int) -> str | None:
    """One delivery attempt, queued by the sweeper's ``webhooks.deliver`` after its commit."""
    state = webhooks.attempt(delivery_id, attempts)
    return state.value if state is not None else None
