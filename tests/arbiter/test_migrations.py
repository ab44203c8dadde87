"""The migrations and the models describe the same schema, on both engines."""

from datetime import timedelta

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import CheckConstraint, inspect, select, text

from accounts.roles import Role
from arbiter import clock, create_app
from arbiter.extensions import db
from arbiter.files import Upload


def test_autogenerate_finds_no_difference(app, db_session):
    connection = db.session.connection()
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "render_as_batch": True}
    )
    assert compare_metadata(context, db.metadata) == []


def test_every_table_is_migrated(app, db_session):
    tables = set(inspect(db.session.connection()).get_table_names())
    assert set(db.metadata.tables) <= tables
    assert "alembic_version" in tables


def test_downgrade_to_base_and_back(fresh_app):
    from flask_migrate import downgrade, upgrade

    app = fresh_app()
    with app.app_context():
        upgrade()
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        upgrade()
        assert "audit_entries" in inspect(db.engine).get_table_names()
        db.engine.dispose()


def test_every_check_constraint_of_the_models_is_in_the_database(app, db_session):
    """Autogenerate does not compare CHECK constraints, and SQLite's batch mode rebuilds a
    table from what it reflects: the names must match, table by table, on both engines."""
    inspector = inspect(db.session.connection())
    for table in db.metadata.sorted_tables:
        declared = {c.name for c in table.constraints if isinstance(c, CheckConstraint)}
        present = {c["name"] for c in inspector.get_check_constraints(table.name)}
        assert declared == present, table.name


# --- 0013: the parties on every row where staff act --------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_app(request, tmp_path):
    """An app on a database of its own, with nothing in it yet (not even tables)."""
    from tests.conftest import _base_config, _postgres_url

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'migrations.sqlite3'}"
    else:
        url = _postgres_url(request)
    config = _base_config(url)
    config["STORAGE_DIR"] = str(tmp_path / "storage")
    app = create_app(config)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def _migrate(app, revision: str, *, down: bool = False) -> None:
    """Alembic itself (Flask-Migrate's commands turn a failure into sys.exit)."""
    config = app.extensions["migrate"].migrate.get_config()
    (command.downgrade if down else command.upgrade)(config, revision)


def _case_file():
    """Through the services at head: a decided discussion with an information request, and
    a paid claim with a document request, judged and paid by staff who are not parties."""
    from accounts.services import create_user
    from claims import services as claims
    from claims.states import ClaimType, Decision
    from disputes import services as disputes
    from disputes.states import ExpectedOutcome, Party, Reason, Verdict
    from orders.services import upsert_order
    from orders.states import PaymentMethod
    from tests.claims.helpers import IBAN
    from tests.conftest import give_sellers_no_time
    from tests.factories import PASSWORD, age
    from tests.files import PDF

    give_sellers_no_time(db.session)  # staff decide the claim at once
    buyer, seller = (create_user(f"{name}@example.test", name, PASSWORD)
                     for name in ("buyer", "seller"))
    advisor, finance = (create_user(f"{name}@example.test", name, PASSWORD, roles=tuple(Role))
                        for name in ("advisor", "finance"))
    db.session.commit()

    def order(number):
        return upsert_order({
            "external_id": f"M-{number}", "buyer_email": buyer.email,
            "seller_email": seller.email, "item_title": "Lamp", "item_price": 10_000,
            "shipping_cost": 1_000, "payment_method": PaymentMethod.PLATFORM_PAYMENTS,
            "paid_at": clock.now() - timedelta(days=2)}).order

    def discussion(number):
        opened = disputes.open_discussion(
            order(number), buyer, reason=Reason.DAMAGED,
            expected_outcome=ExpectedOutcome.REFUND, description="Broken.")
        db.session.commit()
        age(opened, 25)
        return opened

    decided = discussion(1)
    disputes.escalate(decided, buyer, "No answer.")
    disputes.take_case(decided, advisor)
    disputes.request_information(decided, advisor, party=Party.SELLER, question="Tracking?")
    disputes.decide(decided, advisor, verdict=Verdict.SELLER_FAVOUR,
                    amount=None, rationale="The tracking shows the parcel was delivered.")
    claim = claims.file_claim(discussion(2).order, buyer, claim_type=ClaimType.NOT_AS_DESCRIBED,
                              description="Another model.", payout_account=IBAN)
    claims.take(claim, advisor)
    claims.request_documents(claim, advisor, "The invoice.")
    claims.upload_documents(claim, buyer, [Upload("invoice.pdf", PDF)])
    claims.decide(claim, advisor, decision=Decision.APPROVED)
    batch = claims.export_payouts(finance)
    claims.mark_batch_paid(batch.id, advisor)  # never the exporter (issue 20)
    db.session.commit()
    ids = {"discussion": decided.id, "claim": claim.id, "buyer": buyer.id,
           "seller": seller.id, "advisor": advisor.id, "finance": finance.id}
    db.session.remove()
    return ids


def _one(sql: str, **parameters):
    return db.session.execute(text(sql), parameters).one()


def test_0013_backfills_the_parties_and_comes_back_down(empty_app):
    _migrate(empty_app, "head")
    ids = _case_file()
    _migrate(empty_app, "0012", down=True)
    assert "seller_id" not in {c["name"] for c in inspect(db.engine).get_columns("claims")}
    _migrate(empty_app, "head")  # again, now with rows to copy the parties into

    buyer, seller = ids["buyer"], ids["seller"]
    assert _one("SELECT buyer_id, seller_id FROM claims WHERE id = :id",
                id=ids["claim"]) == (buyer, seller)
    assert _one("SELECT buyer_id, seller_id FROM information_requests "
                "WHERE discussion_id = :id", id=ids["discussion"]) == (buyer, seller)
    assert _one("SELECT buyer_id, seller_id FROM document_requests WHERE claim_id = :id",
                id=ids["claim"]) == (buyer, seller)
    assert _one("SELECT buyer_id, seller_id, exported_by_id, marked_paid_by_id FROM payouts "
                "WHERE claim_id = :id", id=ids["claim"]) == (buyer, seller, ids["finance"],
                                                              ids["advisor"])


def test_0013_stops_on_a_case_decided_by_its_own_party_and_changes_nothing(empty_app):
    _migrate(empty_app, "head")
    ids = _case_file()
    _migrate(empty_app, "0012", down=True)
    # what issue 25 found: a staff member decided a case they are the buyer of
    db.session.execute(text("UPDATE users SET is_staff = true WHERE id = :id"),
                       {"id": ids["buyer"]})
    db.session.execute(text("UPDATE discussions SET decided_by_id = :buyer WHERE id = :id"),
                       {"buyer": ids["buyer"], "id": ids["discussion"]})
    db.session.commit()
    db.session.remove()

    with pytest.raises(RuntimeError) as stopped:
        _migrate(empty_app, "head")
    assert f"discussions [{ids['discussion']}]" in str(stopped.value)
    assert "claims" not in str(stopped.value)
    db.session.remove()
    assert _one("SELECT version_num FROM alembic_version") == ("0012",)
    assert "seller_id" not in {c["name"] for c in inspect(db.engine).get_columns("claims")}


def test_0014_keeps_when_documents_came_and_comes_back_down(empty_app):
    _migrate(empty_app, "head")
    ids = _case_file()
    answered = _one("SELECT answered_at FROM document_requests WHERE claim_id = :id",
                    id=ids["claim"])[0]
    assert answered is not None
    db.session.remove()  # a reading transaction would hold the table the migration alters
    _migrate(empty_app, "0013", down=True)
    assert _one("SELECT fulfilled_at FROM document_requests WHERE claim_id = :id",
                id=ids["claim"])[0] == answered
    db.session.remove()
    _migrate(empty_app, "head")
    assert _one("SELECT answered_at FROM document_requests WHERE claim_id = :id",
                id=ids["claim"])[0] == answered


# --- migration 0035 ---------------------------------------------------------------------------


def _version_row(code: str):  # the JSON is text on SQLite
    return db.session.execute(text(
        "SELECT seller_answer_hours, appeal_window_days, documents_required "
        "FROM policy_versions WHERE code = :code"), {"code": code}).one()


def test_0035_gives_existing_versions_the_settings_values_and_comes_back_down(empty_app):
    _migrate(empty_app, "head")
    hours, days, documents = _version_row("2017-08")
    assert (hours, days, documents) == (48, 30, {"not_received": ["police_report"]}) or (
        hours, days, documents) == (48, 30, '{"not_received": ["police_report"]}')
    db.session.remove()
    _migrate(empty_app, "0032", down=True)
    db.session.execute(text(  # a draft for 2017-08's date, needing police for two types
        "INSERT INTO policy_versions (code, effective_from, covered_payment_methods, "
        "shipping_covered_for, shipping_cap_minor, total_cap_minor, filing_window_days, "
        "police_report_required_for, status) SELECT '2030-01', effective_from, "
        "covered_payment_methods, shipping_covered_for, 0, 100000, 30, "
        "'[\"other\", \"not_received\"]', 'draft' FROM policy_versions "
        "WHERE code = '2017-08'"))
    db.session.commit()
    db.session.remove()
    _migrate(empty_app, "head")
    from claims import policy
    from claims.models import PolicyVersion
    from claims.states import ClaimType

    rows = {code: db.session.scalar(select(PolicyVersion).filter_by(code=code)).to_rules()
            for code in ("2017-08", "2030-01")}
    assert rows["2030-01"].police_report_required_for == {ClaimType.OTHER,
                                                          ClaimType.NOT_RECEIVED}
    assert rows["2030-01"].documents_for(ClaimType.NOT_AS_DESCRIBED) == frozenset()
    assert (rows["2030-01"].seller_answer_hours, rows["2030-01"].appeal_window_days) == (48, 30)
    assert rows["2017-08"] == policy.PolicyRules("2017-08", rows["2017-08"].effective_from)
    db.session.remove()
    _migrate(empty_app, "0032", down=True)
    police = db.session.execute(text(
        "SELECT code, police_report_required_for FROM policy_versions ORDER BY code")).all()
    assert [(code, sorted(value) if isinstance(value, list) else value)
            for code, value in police] in (
        [("2017-08", ["not_received"]), ("2030-01", ["not_received", "other"])],
        [("2017-08", '["not_received"]'), ("2030-01", '["not_received", "other"]')])
    db.session.remove()


# --- 0033: the audit log's global chain becomes the first leaves of its Merkle tree -------


def test_0033_the_old_global_chain_becomes_the_first_leaves_and_still_verifies(empty_app):
    from arbiter import audit, tlog
    from arbiter import transparency_log as log

    _migrate(empty_app, "0032")
    # Entries as arbiter.audit wrote them before 0033: one chain over every row, in id
    # order, and a webhook endpoint that had seen events up to the third entry.
    prev = audit.GENESIS_HASH
    for number in range(1, 6):
        content = {"at": f"2026-12-01T10:00:0{number}+00:00", "actor_id": None,
                   "action": "order.created", "object_type": "orders",
                   "object_id": str(number), "before": None, "after": {"n": number},
                   "note": None}
        digest = tlog.chain_hash(prev, content)
        db.session.execute(text(
            "INSERT INTO audit_entries (id, at, action, object_type, object_id, after, "
            "prev_hash, hash) VALUES (:id, :at, 'order.created', 'orders', :oid, :after, "
            ":prev, :hash)"), {"id": number * 10, "at": f"2026-12-01 10:00:0{number}",
                               "oid": str(number), "after": f'{{"n": {number}}}',
                               "prev": prev, "hash": digest})
        prev = digest
    db.session.execute(text(
        "INSERT INTO webhook_endpoints (url, secret, description, created_at, active, "
        "last_event_id, integration) VALUES ('https://hooks.example.test/', 'whsec_x', '', "
        "'2026-12-01 10:00:00', true, 30, 'marketplace')"))
    db.session.commit()
    _migrate(empty_app, "head")

    log.sequence()
    leaves = db.session.execute(text(
        "SELECT entry_id FROM audit_leaves ORDER BY leaf_index")).scalars().all()
    assert leaves == [10, 20, 30, 40, 50]  # the old rows first, in their order
    report = log.verify(vkey=log.verifier_key())
    assert report.problem is None and report.entries == 5
    # The endpoint's cursor (entry 30) became its position: the next event is entry 40.
    assert db.session.execute(text("SELECT feed_position FROM webhook_endpoints")
                              ).scalar() == 3
    # They keep their global chain (no chain key); a new entry starts a chain of its own.
    assert db.session.execute(text("SELECT count(*) FROM audit_entries WHERE chain_key IS "
                                   "NULL")).scalar() == 5
    db.session.remove()
