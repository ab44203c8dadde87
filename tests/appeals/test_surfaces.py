"""Where appeals show outside their own pages, on SQLite and PostgreSQL: the event feed
(parties only), the state machines, the verify page of the decision appealed, the case
file (page and API), and the data export."""

import io
import json
import zipfile

from sqlalchemy import select

from accounts.models import DataExport
from appeals import services as appeals
from appeals.states import AppealState, Outcome
from arbiter import documents
from arbiter.extensions import db
from arbiter.files import Upload
from arbiter.tasks import run_ready_tasks
from arbiter.transparency_log import sequence
from tests.appeals.conftest import STATEMENT
from tests.appeals.helpers import ANSWER, decided_appeal
from tests.files import PNG


def _events(api, token) -> list[dict]:
    sequence()  # events reach the feed once the audit log's sequencer has added them
    return [e for e in api.get("/api/v1/events?limit=500", token=token).json["events"]
            if e["object_type"] == "appeal"]


def test_appeal_events_reach_both_parties_and_nobody_else(api, verdict, buyer, seller,
                                                           reviewer, token_for, create_user,
                                                           integration_token):
    appeal = decided_appeal(verdict(), seller, reviewer, respondent=buyer)
    expected = [("appeal.filed", "submitted"), ("appeal.answer", "submitted"),
                ("appeal.take", "under_review"), ("appeal.uphold", "upheld")]
    for user in (buyer, seller):
        seen = _events(api, token_for(user))
        assert [(e["type"], e["state"]) for e in seen] == expected
        assert {e["object_id"] for e in seen} == {appeal.id}
    assert _events(api, token_for(create_user())) == []
    assert _events(api, token_for(reviewer)) == []  # staff are not a party
    assert len(_events(api, integration_token)) == 4  # the marketplace sees every event


def test_the_state_machines_publish_the_appeal_machine(client):
    machine = client.get("/api/v1/state-machines").json["appeal"]
    assert machine["states"] == ["submitted", "under_review", "upheld", "varied",
                                 "overturned"]
    assert machine["terminal_states"] == ["overturned", "upheld", "varied"]
    steps = {step["action"]: step for step in machine["transitions"]}
    assert steps["answer"]["to"] is None and steps["answer"]["actor"] == "respondent"
    assert steps["take"]["to"] == "under_review" and steps["vary"]["to"] == "varied"


def _verify(client, document):
    return client.post(f"/decisions/{document.number}/verify",
                       data={"sha256": document.fingerprint})


def test_the_verify_page_says_superseded_by_the_appeal_decision(client, verdict, buyer,
                                                                  reviewer):
    discussion = verdict()
    [original, *_] = documents.documents_for("discussions", discussion.id)
    before = _verify(client, original)
    assert before.status_code == 200 and "data-successor" not in before.text
    appeal = decided_appeal(discussion, buyer, reviewer, Outcome.VARIED, 9_000)
    [decision, *_] = documents.documents_for("appeals", appeal.id)
    page = _verify(client, original)
    assert page.status_code == 200
    assert 'data-successor="superseded"' in page.text
    assert f"Superseded by <a href=\"/decisions/{decision.number}/verify\">" \
           f"{decision.number}</a>" in page.text
    # The appeal decision's own page works like any other decision's.
    own = _verify(client, decision)
    assert own.status_code == 200 and 'data-verified="valid"' in own.text
    assert "data-successor" not in own.text
    # Nobody learns about the appeal by trying numbers: only a genuine file shows it.
    assert "data-successor" not in client.get(f"/decisions/{original.number}/verify").text
    wrong = client.post(f"/decisions/{original.number}/verify", data={"sha256": "0" * 64})
    assert wrong.status_code == 422 and "data-successor" not in wrong.text


def test_an_upheld_decision_says_reviewed_on_appeal(client, verdict, seller, reviewer):
    discussion = verdict()
    [original, *_] = documents.documents_for("discussions", discussion.id)
    appeal = decided_appeal(discussion, seller, reviewer)
    assert appeal.state is AppealState.UPHELD
    [decision, *_] = documents.documents_for("appeals", appeal.id)
    page = _verify(client, original)
    assert 'data-successor="upheld"' in page.text
    assert f"Reviewed on appeal: upheld by <a href=\"/decisions/{decision.number}/verify\">" \
           in page.text


def test_the_case_file_lists_the_appeals_in_time_order(client, auth, api, verdict, buyer,
                                                       seller, reviewer, token_for,
                                                       create_user, integration_token):
    discussion = verdict()
    order = discussion.order
    appeal = decided_appeal(discussion, buyer, reviewer, Outcome.VARIED, 9_000,
                            respondent=seller)
    [decision, *_] = documents.documents_for("appeals", appeal.id)
    case = api.get(f"/api/v1/orders/{order.external_id}/case", token=token_for(seller)).json
    appeal_events = [e for e in case["events"] if e["object_type"] == "appeal"]
    # "state" is the appeal's state now, as on a claim's "claim.filed".
    assert [(e["type"], e["state"], e["amount"]) for e in appeal_events] == [
        ("appeal.filed", "varied", "50.00"), ("appeal.answered", None, None),
        ("appeal.decided", "varied", "90.00")]
    assert appeal_events[0]["details"] == {"subject": "verdict", "appellant": "buyer"}
    assert appeal_events[2]["details"] == {"outcome": "varied",
                                           "decision_number": decision.number}
    assert all(e["appeal_id"] == appeal.id and e["discussion_id"] == discussion.id
               for e in appeal_events)
    # In time order with the rest of the case: after the verdict, before the new row.
    types = [e["type"] for e in case["events"]]
    assert types.index("discussion.decided") < types.index("appeal.filed")
    assert types.index("appeal.decided") < len(types) - 1
    rows = [s for s in case["settlements"] if s["appeal_id"] == appeal.id]
    assert [(r["source"], r["amount"]) for r in rows] == [("appeal", "90.00")]
    # The marketplace sees the same events (no statements in them); strangers get 404.
    market = api.get(f"/api/v1/orders/{order.external_id}/case", token=integration_token)
    assert [e["type"] for e in market.json["events"] if e["object_type"] == "appeal"] == [
        e["type"] for e in appeal_events]
    assert STATEMENT not in market.text and ANSWER not in market.text
    assert api.get(f"/api/v1/orders/{order.external_id}/case",
                   token=token_for(create_user())).status_code == 404

    auth.login(buyer.email)
    page = client.get(f"/orders/{order.id}/case")
    assert page.status_code == 200
    shown = [line for line in page.text.splitlines() if 'data-event="appeal.' in line]
    assert [line.split('data-event="')[1].split('"')[0] for line in shown] == [
        "appeal.filed", "appeal.answered", "appeal.decided"]
    assert f'id="appeal-{appeal.id}"' in page.text
    assert 'data-outcome="varied"' in page.text
    assert f'href="/decisions/{decision.number}/verify"' in page.text
    assert STATEMENT not in page.text


def test_the_export_holds_the_parties_appeals_and_their_own_files(client, auth, verdict,
                                                                  buyer, seller, reviewer):
    discussion = verdict()
    appeal = appeals.file_appeal(discussion, buyer, STATEMENT, [Upload("courier.png", PNG)])
    db.session.commit()
    appeals.answer(appeal, seller, ANSWER, [Upload("tracking.png", PNG)])
    db.session.commit()

    def export_of(user) -> zipfile.ZipFile:
        auth.login(user.email)
        assert client.post("/account/data-export").status_code == 302
        run_ready_tasks()
        export = db.session.scalars(select(DataExport).where(DataExport.user_id == user.id)
                                    .order_by(DataExport.id.desc())).first()
        response = client.get(f"/account/data-export/{export.id}/download")
        assert response.status_code == 200
        auth.logout()
        return zipfile.ZipFile(io.BytesIO(response.data))

    bundle = export_of(buyer)
    [entry] = json.loads(bundle.read("appeals.json"))
    assert (entry["id"], entry["your_role"], entry["your_side"]) == (
        appeal.id, "appellant", "buyer")
    assert entry["statement"] == STATEMENT and entry["answer"]["statement"] == ANSWER
    assert entry["original_amount"] == "50.00" and "reviewer" not in json.dumps(entry)
    files = {f["filename"]: f["file"] for f in entry["files"]}
    assert files["tracking.png"] is None  # the seller's file: listed, not copied
    assert bundle.read(files["courier.png"]) == PNG
    evidence = json.loads(bundle.read("evidence.json"))
    assert [e["filename"] for e in evidence if e.get("where") == "appeal"] == ["courier.png"]
    assert "appeals.json" in bundle.read("README.txt").decode()

    seller_bundle = export_of(seller)
    [seen] = json.loads(seller_bundle.read("appeals.json"))
    assert (seen["your_role"], seen["your_side"]) == ("respondent", "seller")
    assert {f["filename"]: bool(f["file"]) for f in seen["files"]} == {
        "courier.png": False, "tracking.png": True}

