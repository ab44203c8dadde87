"""Purchases as the marketplace reports them."""
