"""Races on real PostgreSQL with real threads: idempotency keys and the event feed."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from accounts import services as accounts
from arbiter import clock
from arbiter.extensions import db
from disputes import services as disputes
from disputes.models import Entry
from disputes.states import ExpectedOutcome, Reason
from integrations import tokens
from orders.services import upsert_order
from orders.states import PaymentMethod
from tests.conftest import FreshContextClient
from tests.factories import PASSWORD

pytestmark = [pytest.mark.postgres_only, pytest.mark.race]


def _world():
    buyer = accounts.create_user("race-buyer@example.test", "Race Buyer", PASSWORD)
    seller = accounts.create_user("race-seller@example.test", "Race Seller", PASSWORD)
    db.session.flush()
    order = upsert_order({
        "external_id": "RACE-1", "buyer_email": buyer.email, "seller_email": seller.email,
        "item_title": "Race", "item_price": 10_000, "shipping_cost": 0,
        "payment_method": PaymentMethod.PLATFORM_PAYMENTS,
        "paid_at": clock.now() - timedelta(days=3)}).order
    discussion = disputes.open_discussion(
        order, buyer, reason=Reason.NOT_RECEIVED, expected_outcome=ExpectedOutcome.REFUND,
        description="Nothing came.")
    token = tokens.issue_user_token(buyer).token
    db.session.commit()
    return token, discussion.id


def _post(app, token, discussion_id, key="same-key"):
    client = FreshContextClient(app, app.response_class)
    return client.post(f"/api/v1/discussions/{discussion_id}/messages",
                       json={"body": "Where is it?"},
                       headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key,
                                "Accept-Language": "en"})


def _messages(discussion_id) -> int:
    db.session.remove()
    return db.session.scalar(select(func.count()).select_from(Entry).where(
        Entry.discussion_id == discussion_id, Entry.body == "Where is it?"))


def test_a_second_request_while_the_first_runs_gets_409(committed, monkeypatch):
    app = committed
    token, discussion_id = _world()
    entered, release = threading.Event(), threading.Event()
    original = disputes.post_message

    def slow_post_message(*args, **kwargs):
        entered.set()
        assert release.wait(30)
        return original(*args, **kwargs)

    monkeypatch.setattr(disputes, "post_message", slow_post_message)
    with ThreadPoolExecutor(max_workers=1) as pool:
        first = pool.submit(_post, app, token, discussion_id)
        assert entered.wait(30)  # the first request holds the key and is inside the service
        second = _post(app, token, discussion_id)
        assert second.status_code == 409
        assert second.json["error"]["code"] == "idempotency_key_in_progress"
        release.set()
        assert first.result().status_code == 201
    replay = _post(app, token, discussion_id)
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json == first.result().json
    assert _messages(discussion_id) == 1


def test_many_simultaneous_requests_with_one_key_make_one_message(committed, monkeypatch):
    app = committed
    token, discussion_id = _world()
    requests = 8
    barrier = threading.Barrier(requests)
    answered = threading.Semaphore(0)
    original = disputes.post_message

    def post_message_after_the_others(*args, **kwargs):
        for _ in range(requests - 1):  # let every other request answer first
            assert answered.acquire(timeout=30)
        return original(*args, **kwargs)

    monkeypatch.setattr(disputes, "post_message", post_message_after_the_others)

    def attempt(_):
        barrier.wait()
        response = _post(app, token, discussion_id)
        if response.status_code != 201:
            answered.release()
        return response.status_code

    with ThreadPoolExecutor(max_workers=requests) as pool:
        statuses = list(pool.map(attempt, range(requests)))
    assert sorted(statuses) == [201] + [409] * (requests - 1)
    assert _messages(discussion_id) == 1


def test_retries_of_a_key_whose_request_died_run_it_once(committed):
    """The request holding the key died (no answer); after the lease, eight retries at once
    race for it: one conditional UPDATE lets exactly one take it over and run."""
    from integrations.models import IdempotencyKey, IdempotencyState

    app = committed
    token, discussion_id = _world()
    first = _post(app, token, discussion_id)
    assert first.status_code == 201
    db.session.remove()
    row = db.session.scalar(select(IdempotencyKey))
    row.state, row.response_status, row.response_body = IdempotencyState.IN_PROGRESS, None, None
    row.response_content_type, row.response_headers, row.completed_at = None, None, None
    row.created_at = clock.now() - timedelta(seconds=61)
    db.session.commit()
    requests = 8
    barrier = threading.Barrier(requests)

    def attempt(_):
        barrier.wait()
        response = _post(app, token, discussion_id)
        return response.status_code, "Idempotent-Replayed" in response.headers

    with ThreadPoolExecutor(max_workers=requests) as pool:
        answers = list(pool.map(attempt, range(requests)))
    assert answers.count((201, False)) == 1, answers  # the one that took the key over
    # the others: still in progress (409), or, once it answered, its replay
    assert all(answer in ((201, False), (409, False), (201, True)) for answer in answers)
    assert _messages(discussion_id) == 2  # the first (died, lost its answer) and the retry


def test_a_client_following_the_feed_never_misses_or_repeats_an_event(committed):
    """Writers on different cases commit events concurrently (no lock in common, so ids
    become visible out of order) while the sequencer runs and a client follows the feed by
    its cursor, a position in the audit log's Merkle tree: it sees every event once."""
    from integrations.events import OBJECT_TYPES
    from orders.services import upsert_order as upsert

    app = committed
    _world()
    integration = tokens.create_integration_token("feed", scopes=["events:read"]).token
    db.session.commit()
    writers, changes = 6, 15
    done = threading.Event()

    def write(number: int) -> None:
        with app.app_context():
            try:
                order = {"external_id": f"FEED-{number}", "buyer_email": "race-buyer@example.test",
                         "seller_email": "race-seller@example.test", "item_title": "v0",
                         "item_price": 1_000, "shipping_cost": 0,
                         "payment_method": PaymentMethod.BANK_TRANSFER,
                         "paid_at": clock.now() - timedelta(days=1)}
                for change in range(changes):
                    upsert({**order, "item_title": f"v{change}"})
                    # more work after the event's row, before the commit: widens the window
                    # in which a later id could become visible first, were ids not ordered
                    for _ in range(number % 3):
                        db.session.execute(select(func.count()).select_from(Entry))
                    db.session.commit()
            finally:
                db.session.remove()

    seen: list[int] = []

    def follow() -> None:
        client = FreshContextClient(app, app.response_class)
        cursor = 0
        while True:
            finished = done.is_set()  # read before polling: one more full poll after it
            page = client.get(f"/api/v1/events?after={cursor}&limit=7",
                              headers={"Authorization": f"Bearer {integration}"}).json
            seen.extend(event["id"] for event in page["events"])
            cursor = page["next_cursor"]
            if finished and not page["events"]:
                return

    writing = threading.Event()

    def sequencer() -> None:
        from arbiter.transparency_log import sequence

        with app.app_context():
            try:
                while not writing.is_set():
                    sequence()
                    time.sleep(0.01)
                sequence()  # what the last writers committed
            finally:
                db.session.remove()

    with ThreadPoolExecutor(max_workers=writers + 2) as pool:
        reader = pool.submit(follow)
        sequencing = pool.submit(sequencer)
        for future in [pool.submit(write, n) for n in range(writers)]:
            future.result()
        writing.set()
        sequencing.result()
        done.set()
        reader.result()

    db.session.remove()
    from arbiter.audit import AuditEntry
    from arbiter.transparency_log import AuditLeaf

    in_the_tree = db.session.scalars(
        select(AuditEntry.id).join(AuditLeaf, AuditLeaf.entry_id == AuditEntry.id)
        .where(AuditEntry.object_type.in_(OBJECT_TYPES)).order_by(AuditLeaf.leaf_index)).all()
    assert len(in_the_tree) == 2 + writers * changes  # RACE-1 + its discussion, then ours
    assert seen == in_the_tree  # every event, once, in the tree's order


def test_concurrent_escalations_over_the_api_make_exactly_one(committed):
    """The API runs the browser's service (row lock + state check): one wins, the rest 409."""
    from arbiter.audit import AuditEntry
    from disputes.models import Discussion

    app = committed
    token, discussion_id = _world()
    discussion = db.session.get(Discussion, discussion_id)
    for name in ("opened_at", "respond_by", "escalation_available_at", "last_activity_at"):
        setattr(discussion, name, getattr(discussion, name) - timedelta(hours=25))
    db.session.commit()
    requests = 20
    barrier = threading.Barrier(requests)

    def escalate(_):
        client = FreshContextClient(app, app.response_class)
        barrier.wait()
        return client.post(f"/api/v1/discussions/{discussion_id}/escalate",
                           json={"reason": "No answer."},
                           headers={"Authorization": f"Bearer {token}"}).status_code

    with ThreadPoolExecutor(max_workers=requests) as pool:
        statuses = list(pool.map(escalate, range(requests)))
    assert sorted(statuses) == [200] + [409] * (requests - 1), statuses
    db.session.remove()
    assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "discussion.escalate")) == 1
