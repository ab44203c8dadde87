"""Buyer-protection claims, policy versions, compensation and payouts."""
