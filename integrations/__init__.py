"""The marketplace integration: API tokens, idempotency keys, the event feed, webhooks."""
