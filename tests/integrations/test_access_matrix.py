"""The object-access matrix: every object endpoint x {owner, other buyer, other seller,
staff, anonymous}. Nobody but the owner (and staff where staff act) gets through, someone
else's object is 404 (never a 403 that tells it exists), a staff endpoint is 403 for
everyone else, and a refused request changes nothing."""

import io

import pytest

from arbiter import audit
from arbiter.extensions import db
from claims import services as claims
from claims.states import ClaimType
from disputes import services as disputes
from disputes.states import OfferKind
from integrations import tokens, webhooks
from tests.claims.helpers import IBAN
from tests.files import PNG

ORDER_BODY = {"item_title": "Lamp", "item_price": "10.00", "shipping_cost": "0",
              "payment_method": "platform_payments", "paid_at": "2026-01-01T00:00:00Z"}

# (method, path, who owns it, body) -- "{d}" discussion, "{o}" offer, "{c}" claim,
# "{e}" order external id, "{w}" webhook endpoint.
ENDPOINTS = [
    ("GET", "/api/v1/discussions/{d}", "buyer", None),
    ("POST", "/api/v1/discussions/{d}/messages", "seller", {"body": "Sent on Monday."}),
    ("POST", "/api/v1/discussions/{d}/offers", "seller", {"kind": "repair"}),
    ("POST", "/api/v1/discussions/{d}/offers/{o}/accept", "buyer", None),
    ("POST", "/api/v1/discussions/{d}/offers/{o}/decline", "buyer", None),
    ("POST", "/api/v1/discussions/{d}/escalate", "buyer", {"reason": "No answer."}),
    ("POST", "/api/v1/discussions/{d}/solve", "buyer", None),
    ("POST", "/api/v1/discussions/{d}/withdraw", "buyer", None),
    ("POST", "/api/v1/discussions/{d}/take", "staff", None),
    ("POST", "/api/v1/discussions/{d}/information-requests", "staff",
     {"party": "buyer", "question": "Photos?"}),
    ("POST", "/api/v1/discussions/{d}/decide", "staff",
     {"verdict": "seller_favour", "rationale": "The tracking shows the parcel was delivered."}),
    ("GET", "/api/v1/claims/{c}", "buyer", None),
    ("POST", "/api/v1/claims/{c}/withdraw", "buyer", None),
    ("POST", "/api/v1/claims/{c}/documents", "buyer", "files"),
    ("POST", "/api/v1/claims/{c}/take", "staff", None),
    ("POST", "/api/v1/claims/{c}/document-requests", "staff", {"what": "The invoice."}),
    ("POST", "/api/v1/claims/{c}/reject-after-deadline", "staff", None),
    ("POST", "/api/v1/claims/{c}/decide", "staff", {"decision": "approved"}),
    # Four eyes: seniors only (the staff fixture holds every role); nothing awaits here: 409.
    ("POST", "/api/v1/claims/{c}/second-approval", "staff", {"confirm_amount": "1.00"}),
    ("POST", "/api/v1/claims/{c}/send-back", "staff", {"reason": "The invoice does not add up."}),
    ("GET", "/api/v1/orders/{e}", "integration", None),
    ("PUT", "/api/v1/orders/{e}", "integration", "order"),
    ("DELETE", "/api/v1/webhooks/{w}", "integration", None),
]
ROLES = ["anonymous", "other_buyer", "other_seller", "staff", "owner"]


@pytest.fixture
def world(create_user, create_order, create_discussion, buyer, seller, staff, token_for,
          integration_token, local_receiver_allowed):
    other_buyer, other_seller = create_user(), create_user()
    create_order(buyer=other_buyer, seller=other_seller)  # they buy and sell too
    order = create_order(buyer=buyer, seller=seller)
    discussion = create_discussion(order, age_hours=25)
    offer = disputes.make_offer(discussion, seller, kind=OfferKind.REPLACEMENT)
    claim = claims.file_claim(order, buyer, claim_type=ClaimType.NOT_AS_DESCRIBED,
                              description="Wrong model.", payout_account=IBAN)
    endpoint = webhooks.register("http://127.0.0.1:9/hook",
                                 token=tokens.live_integration_token("marketplace"))
    db.session.commit()
    return {
        "ids": {"d": discussion.id, "o": offer.id, "c": claim.id, "e": order.external_id,
                "w": endpoint.id},
        "tokens": {"buyer": token_for(buyer), "seller": token_for(seller),
                   "staff": token_for(staff), "other_buyer": token_for(other_buyer),
                   "other_seller": token_for(other_seller), "integration": integration_token,
                   "anonymous": None},
        "emails": (buyer.email, seller.email),
    }


def _body(kind, world) -> dict:
    if kind == "files":
        return {"data": {"files": [(io.BytesIO(PNG), "photo.png")]},
                "content_type": "multipart/form-data"}
    if kind == "order":
        buyer_email, seller_email = world["emails"]
        return {"json": {**ORDER_BODY, "buyer_email": buyer_email,
                         "seller_email": seller_email}}
    return {"json": kind} if kind is not None else {}


def _expected(role: str, owner: str, method: str, path: str) -> set[int] | None:
    """The statuses allowed for ``role``; None: anything but a refusal (the owner)."""
    if role == "anonymous":
        return {401}
    if role == "owner" or (role == "staff" and owner == "staff"):
        return None
    if owner in ("staff", "integration"):
        return {403}  # the endpoint is not for them, whichever object it names
    if role == "staff":  # staff see every case but are neither buyer nor seller
        if method == "GET":
            return {200}
        return {409} if path.endswith("/messages") else {404}
    return {404}


@pytest.mark.parametrize(("method", "path", "owner", "body"), ENDPOINTS,
                         ids=[f"{m} {p}" for m, p, _, _ in ENDPOINTS])
def test_access(api, world, method, path, owner, body):
    url = path.format(**world["ids"])
    outcomes = {}
    for role in ROLES:
        token = world["tokens"][owner if role == "owner" else role]
        before = (audit.count(), _files(api))
        response = api.open(method, url, token=token, **_body(body, world))
        expected = _expected(role, owner, method, path)
        allowed = (response.status_code not in (401, 403, 404) and response.status_code < 500
                   if expected is None else response.status_code in expected)
        outcomes[role] = (response.status_code, allowed)
        if expected is not None and response.status_code >= 400:
            assert (audit.count(), _files(api)) == before, f"{role} changed something"
    refused = {role: status for role, (status, ok) in outcomes.items() if not ok}
    assert not refused, f"unexpected statuses: {refused} (all: {outcomes})"


def _files(api) -> int:
    import os

    root = api.client.application.config["STORAGE_DIR"]
    return sum(len(files) for _, _, files in os.walk(root))


def test_lists_show_only_my_own_objects(api, world):
    tokens, ids = world["tokens"], world["ids"]
    for role in ("other_buyer", "other_seller"):
        for path in ("/api/v1/discussions", "/api/v1/discussions?role=seller",
                     "/api/v1/claims"):
            items = api.get(path, token=tokens[role]).json["items"]
            assert ids["d"] not in {i["id"] for i in items if "reason" in i}, (role, path)
            assert ids["c"] not in {i["id"] for i in items if "claim_type" in i}, (role, path)
    assert [d["id"] for d in api.get("/api/v1/discussions?role=seller",
                                      token=tokens["seller"]).json["items"]] == [ids["d"]]
    assert [c["id"] for c in api.get("/api/v1/claims",
                                     token=tokens["buyer"]).json["items"]] == [ids["c"]]


# Staff endpoints on a case whose buyer or seller is a staff member: that person is staff,
# but not for this case (issue 25): 403, whatever state the case is in, and nothing changes.
STAFF_ENDPOINTS = [endpoint for endpoint in ENDPOINTS if endpoint[2] == "staff"]


@pytest.fixture
def insiders(create_user, create_order, create_discussion, token_for):
    buyer, seller = create_user(is_staff=True), create_user(is_staff=True)
    order = create_order(buyer=buyer, seller=seller)
    discussion = create_discussion(order, age_hours=25)
    claim = claims.file_claim(order, buyer, claim_type=ClaimType.NOT_AS_DESCRIBED,
                              description="Wrong model.", payout_account=IBAN)
    db.session.commit()
    return {"ids": {"d": discussion.id, "c": claim.id},
            "tokens": {"buyer": token_for(buyer), "seller": token_for(seller)}}


@pytest.mark.parametrize("party", ["buyer", "seller"])
@pytest.mark.parametrize(("method", "path", "owner", "body"), STAFF_ENDPOINTS,
                         ids=[f"{m} {p}" for m, p, _, _ in STAFF_ENDPOINTS])
def test_staff_endpoints_refuse_the_cases_own_parties(api, insiders, method, path, owner,
                                                      body, party):
    before = (audit.count(), _files(api))
    response = api.open(method, path.format(**insiders["ids"]),
                        token=insiders["tokens"][party], **_body(body, insiders))
    assert response.status_code == 403, response.json
    assert response.json["error"]["code"] == "conflict_of_interest"
    assert (audit.count(), _files(api)) == before
