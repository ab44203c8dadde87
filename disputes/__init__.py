"""Discussions between buyers and sellers, escalation and staff verdicts."""
