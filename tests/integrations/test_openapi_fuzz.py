"""Schemathesis against the app's own OpenAPI document, in process: no server error and
every answer matches the document, for every operation."""

from datetime import timedelta

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from appeals import services as appeals
from arbiter.extensions import db
from claims import services as claims
from claims.states import ClaimType
from disputes import services as disputes
from disputes.states import OfferKind, Verdict
from integrations import tokens, webhooks
from tests.claims.helpers import IBAN

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
EXAMPLES = 12  # per operation; both tests on both engines stay under a minute
INTEGRATION_PATHS = ("/api/v1/orders/", "/api/v1/webhooks", "/api/v1/events",
                     "/api/v1/settlements/", "/api/v1/recoveries.csv")
STAFF_ACTIONS = ("/take", "/decide", "/information-requests", "/document-requests",
                 "/reject-after-deadline", "/read")


@pytest.fixture
def world(db_session, create_order, create_discussion, create_user, buyer, seller, staff,
          token_for, integration_token, time_machine, local_receiver_allowed):
    """Real objects for the path parameters, so examples reach the success paths too."""
    order = create_order(buyer=buyer, seller=seller)
    discussion = create_discussion(order, age_hours=25)
    offer = disputes.make_offer(discussion, seller, kind=OfferKind.REPAIR)
    claim = claims.file_claim(order, buyer, claim_type=ClaimType.NOT_AS_DESCRIBED,
                              description="Wrong model.", payout_account=IBAN)
    endpoint = webhooks.register("http://127.0.0.1:9/hook",
                                 token=tokens.live_integration_token("marketplace"))
    refunded = create_discussion(create_order(buyer=buyer, seller=seller))
    refund = disputes.make_offer(refunded, seller, kind=OfferKind.REFUND)
    promise = disputes.accept_offer(refunded, buyer, refund.id)
    # A verdict by another advisor, appealed by the buyer: the staff token may review it.
    decided = create_discussion(create_order(buyer=buyer, seller=seller), age_hours=25)
    disputes.escalate(decided, buyer, "The seller does not answer at all.")
    decider = create_user(is_staff=True)
    disputes.take_case(decided, decider)
    disputes.decide(decided, decider, verdict=Verdict.PARTIAL, amount=500,
                    rationale="The photos show the damage clearly; half is fair.")
    appeal = appeals.file_appeal(decided, buyer, "The advisor did not read the courier's "
                                 "statement I attached on day two.")
    db.session.commit()
    return {
        "ids": {"discussion_id": discussion.id, "offer_id": offer.id, "claim_id": claim.id,
                "external_id": order.external_id, "endpoint_id": endpoint.id,
                "settlement_id": promise.id, "appeal_id": appeal.id, "item": "decision",
                "user_id": buyer.id},
        "buyer": token_for(buyer), "staff": token_for(staff), "integration": integration_token,
    }


def _token(world, path: str) -> str:
    if path.startswith(INTEGRATION_PATHS):
        return world["integration"]
    if "/staff/" in path or path.endswith(STAFF_ACTIONS):
        return world["staff"]
    return world["buyer"]


def _fuzz(operation, token: str, path_parameters: dict | None, examples: int = EXAMPLES) -> None:
    @given(case=operation.as_strategy(path_parameters=path_parameters))
    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    def check(case):
        headers = {"Authorization": f"Bearer {token}", "Accept-Language": "en"}
        response = case.call(headers=headers)
        case.validate_response(response, checks=CHECKS, headers=headers)

    check()


def test_every_operation_answers_within_its_document(app, world):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30
    for operation in operations:
        names = {parameter.name for parameter in operation.path_parameters}
        fixed = {name: world["ids"][name] for name in names} or None
        _fuzz(operation, _token(world, operation.path), fixed)


def test_unknown_objects_answer_within_the_document_too(app, world):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path_parameters:
            _fuzz(operation, _token(world, operation.path), None, examples=4)


def test_the_fuzzing_world_is_not_empty(world):
    assert world["ids"]["discussion_id"] and world["ids"]["claim_id"]
    assert timedelta(hours=25)  # the discussion is past its 24 h window
