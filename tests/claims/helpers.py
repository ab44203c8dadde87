"""Helpers shared by the claims tests (the fixtures are in conftest.py)."""

import os
import re

from sqlalchemy import func, select

from arbiter import audit
from arbiter.extensions import db
from claims import services
from claims.models import Claim, ClaimDocument, Payout
from claims.states import ClaimState, ClaimType

IBAN = "PL61109010140000071219812874"
OTHER_IBAN = "PL27114020040000300201355387"  # another buyer's: an account nobody shares
PARTIAL_RATIONALE = "Half of the loss is documented by the repair shop's invoice."


def file(order, **overrides):
    """File a claim through the service as the order's buyer, and commit."""
    values = {"claim_type": ClaimType.NOT_AS_DESCRIBED,
              "description": "The lamp is a different model than the listing shows.",
              "payout_account": IBAN}
    values.update(overrides)
    claim = services.file_claim(order, order.buyer, **values)
    db.session.commit()
    return claim


def export_via_page(client, **kwargs):
    """Export as finance does on the page: read the confirmation (what it lists is what is
    confirmed), then post it."""
    import re

    page = client.get("/staff/payouts/export").text
    ids = re.findall(r'name="payout_id" value="(\d+)"', page)
    return client.post("/staff/payouts/export", data={"payout_id": ids}, **kwargs)


class World:
    """How many rows and files exist: a refused request must change none of it."""

    def __init__(self, app):
        self.app = app

    def counts(self) -> dict:
        root = self.app.config["STORAGE_DIR"]
        return {
            "claims": db.session.scalar(select(func.count()).select_from(Claim)),
            "documents": db.session.scalar(select(func.count()).select_from(ClaimDocument)),
            "payouts": db.session.scalar(select(func.count()).select_from(Payout)),
            "audit": audit.count(),
            "files": sum(len(files) for _, _, files in os.walk(root)),
        }


def confirm_if_needed(claim, senior):
    """The second approval of an approval above the four-eyes threshold (by ``senior``,
    who must not be its first approver), committed; nothing for any other claim."""
    if claim.state is ClaimState.AWAITING_SECOND_APPROVAL:
        services.confirm_approval(claim, senior, confirm_amount=claim.approved_amount)
        db.session.commit()
    return claim


CONFIRM_AMOUNT = re.compile(r'name="confirm_amount"[^>]*value="([0-9.]*)"')


def decide_in_browser(client, claim_id: int, data: dict, **kwargs):
    """Post a decision as the claim page does: an approval shows its confirmation page
    first (200, nothing changed), then the confirmed post decides. Returns the last
    response (the confirmation page when it was refused)."""
    url = f"/claims/{claim_id}/decide"
    response = client.post(url, data=data, **kwargs)
    if response.status_code != 200 or "confirm_amount" not in response.text:
        return response
    (amount,) = CONFIRM_AMOUNT.findall(response.text)
    return client.post(url, data={**data, "confirmed": "1", "confirm_amount": amount}, **kwargs)
