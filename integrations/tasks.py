"""The integration's sweeper jobs (registered when the sweeper loads its jobs)."""

from arbiter.sweeper import register
from integrations import idempotency, webhooks

register("integrations.idempotency_keys_expired", idempotency.expired, idempotency.forget)
# Fan-out before delivery: an event that happened before this sweep goes out in it.
register("webhooks.fan_out", webhooks.endpoints_behind, webhooks.fan_out)
register("webhooks.deliver", webhooks.due_deliveries, webhooks.deliver)
