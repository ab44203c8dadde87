"""Platform incidents, the public status page and deadline extensions."""
