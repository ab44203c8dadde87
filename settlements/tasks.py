"""The follow-through's deadline jobs, run by the sweeper (arbiter.sweeper) in batches.

Each job's rows leave its selection when it acts (a marker or a new state), and the
sweeper locks them with SKIP LOCKED, so two sweepers at once never act on a row twice.
"""

# The packages that own the cases register what a settled row means for them.
import claims.services  # noqa: F401
import disputes.services  # noqa: F401
from arbiter.sweeper import register
from settlements.services import (
    accept_proof,
    ask_buyer,
    lapse,
    lapsed,
    overdue_unasked,
    proofs_uncontested,
)

register("settlement.ask_buyer", overdue_unasked, ask_buyer)
register("settlement.proof_uncontested", proofs_uncontested, accept_proof)
register("settlement.lapse", lapsed, lapse)
