"""Schemathesis against the app's own OpenAPI document, in process, with every check it
has (``--checks all``): for every operation, valid data (positive) is accepted and data
the document forbids (negative) is refused, nothing answers 500, every answer matches the
document, authentication is enforced; and every undocumented method answers 405 with
``Allow``."""

import uuid
from datetime import timedelta

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from appeals import services as appeals
from arbiter import documents
from arbiter.extensions import db
from arbiter.transparency_log import sequence
from claims import services as claims
from claims.states import ClaimType
from disputes import services as disputes
from disputes.states import OfferKind, Verdict
from integrations import tokens, webhooks
from tests.claims.helpers import IBAN

EXAMPLES = 4  # per operation and mode: all tests on both engines stay within about three minutes
INTEGRATION_PATHS = ("/api/v1/orders/", "/api/v1/webhooks", "/api/v1/events",
                     "/api/v1/settlements/", "/api/v1/recoveries.csv")
# Rules about other rows, or between two fields, that no JSON Schema keyword can state: data
# valid by the document may still be refused there (422 with the field named), so only
# positive_data_acceptance is left out for these operations, for this reason alone.
BEYOND_JSON_SCHEMA = {
    "PUT /api/v1/orders/{external_id}": "the buyer and the seller must differ",
    "POST /api/v1/appeals/{appeal_id}/hand-over": "`to` must be a staff member's id",
    "POST /api/v1/webhooks": "the URL's host must resolve to public addresses only (SSRF: "
                             "checked against DNS at registration and delivery)",
}
# Unknown query parameters are ignored by design on every GET (arbiter.api._Parser: a
# cache-buster is not a client error); for these operations schemathesis's only
# "schema-violating" data is such parameters, which the API rightly accepts.
UNKNOWN_QUERY_IGNORED = {"GET /api/v1/webhooks/{endpoint_id}/deliveries"}
STAFF_ACTIONS = ("/take", "/decide", "/information-requests", "/document-requests",
                 "/reject-after-deadline", "/read", "/proof")


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
    sequence()  # the audit log's tree, for its proofs
    number = documents.documents_for("discussions", decided.id)[0].number
    return {
        "ids": {"leaf_index": 0, "number": number,
                "discussion_id": discussion.id, "offer_id": offer.id, "claim_id": claim.id,
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


def _all_checks(app):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    schema.config.checks.update(included_check_names=["all"])
    return schema


def _fuzz(operation, token: str, path_parameters: dict | None, requests: dict,
          examples: int = EXAMPLES) -> None:
    excluded = [positive_data_acceptance] if operation.label in BEYOND_JSON_SCHEMA else []
    if operation.label in UNKNOWN_QUERY_IGNORED:
        excluded.append(negative_data_rejection)
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        @given(case=operation.as_strategy(mode, path_parameters=path_parameters))
        @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        def check(case):
            headers = {"Authorization": f"Bearer {token}", "Accept-Language": "en"}
            _one_request_per_idempotency_key(case, requests)
            response = case.call(headers=headers)
            case.validate_response(response, headers=headers, excluded_checks=excluded)

        try:
            check()
        except Unsatisfiable:
            # No negative data exists for an operation that takes nothing but its fixed
            # path: there is nothing the document could forbid.
            assert mode is GenerationMode.NEGATIVE


def _one_request_per_idempotency_key(case, requests: dict) -> None:
    """Generated keys repeat ("0", "a"), and a key sent again with another body is refused
    by design (422 idempotency_key_reused, docs/api.md): a repeated key becomes a fresh
    one, so that every request is judged on its own data."""
    key = (case.headers or {}).get("Idempotency-Key")
    request = (case.method, case.formatted_path, repr(case.query), repr(case.body))
    if isinstance(key, str) and requests.setdefault(key, request) != request:
        case.headers["Idempotency-Key"] = uuid.uuid4().hex
        requests[case.headers["Idempotency-Key"]] = request


def test_every_operation_answers_within_its_document(app, world):
    schema = _all_checks(app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30
    requests: dict[str, tuple] = {}
    for operation in operations:
        names = {parameter.name for parameter in operation.path_parameters}
        fixed = {name: world["ids"][name] for name in names} or None
        _fuzz(operation, _token(world, operation.path), fixed, requests)


def test_unknown_objects_answer_within_the_document_too(app, world):
    schema = _all_checks(app)
    requests: dict[str, tuple] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path_parameters:
            _fuzz(operation, _token(world, operation.path), None, requests, examples=2)


UNDOCUMENTED = ("GET", "POST", "PUT", "PATCH", "DELETE", "TRACE")


def test_undocumented_methods_answer_405_with_allow(app, world, client):
    """schemathesis's unsupported_method check, for every path and method: 405 with an
    Allow header naming the documented methods (RFC 9110), in the JSON error shape."""
    document = client.get("/api/v1/openapi.json").get_json()
    for template, operations in document["paths"].items():
        path = template.format(**world["ids"])
        documented = {method.upper() for method in operations if method != "parameters"}
        headers = {"Authorization": f"Bearer {_token(world, template)}"}
        for method in set(UNDOCUMENTED) - documented:
            response = client.open(path, method=method, headers=headers)
            assert response.status_code == 405, (method, path)
            allowed = {name.strip() for name in response.headers["Allow"].split(",")}
            assert allowed - {"HEAD", "OPTIONS"} == documented, (method, path)
            assert response.get_json()["error"]["code"] == "method_not_allowed"


def test_the_fuzzing_world_is_not_empty(world):
    assert world["ids"]["discussion_id"] and world["ids"]["claim_id"]
    assert timedelta(hours=25)  # the discussion is past its 24 h window
