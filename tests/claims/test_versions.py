"""Policy versions drafted by one admin and published by a second for a future date."""

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from accounts.roles import Role
from accounts.staff import NotAnAdministrator
from arbiter.audit import AuditEntry
from arbiter.errors import TransitionNotAllowed, ValidationFailed
from arbiter.extensions import db
from claims import policy, services, versions
from claims.models import PolicyVersion, VersionStatus
from claims.states import ClaimType
from orders.states import PaymentMethod

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
# The first instant of 1 January 2027 in Warsaw (CET, UTC+1).
NEW_YEAR = datetime(2026, 12, 31, 23, 0, tzinfo=UTC)


def _fields(**changes) -> dict:
    fields = {
        "code": "2027-01", "effective_from": NEW_YEAR,
        "covered_payment_methods": ["platform_payments", "bank_transfer"],
        "shipping_covered_for": ["platform_payments"],
        "shipping_cap_minor": 15_000, "total_cap_minor": 2_000_000, "filing_window_days": 120,
        "documents_required": {"not_received": ["police_report"]},
        "per_buyer_cap_minor": 5_000_000, "per_buyer_window_days": 365,
        "seller_answer_hours": 48, "appeal_window_days": 30,
    }
    return {**fields, **changes}


@pytest.fixture
def admins(create_user, time_machine):
    time_machine.move_to(NOW, tick=False)
    return (create_user(roles=[Role.ADMIN], name="Ada Admin"),
            create_user(roles=[Role.ADMIN], name="Bea Admin"))


@pytest.mark.parametrize(("changes", "field"), [
    ({"total_cap_minor": 0}, "total_cap_minor"),
    ({"filing_window_days": 0}, "filing_window_days"),
    ({"effective_from": NOW - timedelta(days=1)}, "effective_from"),
    ({"effective_from": NOW}, "effective_from"),
    ({"shipping_cap_minor": 3_000_000}, "shipping_cap_minor"),
    ({"covered_payment_methods": []}, "covered_payment_methods"),
    ({"shipping_covered_for": ["cash_on_delivery"]}, "shipping_covered_for"),
    ({"per_buyer_window_days": None}, "per_buyer_window_days"),
    ({"per_buyer_cap_minor": 0}, "per_buyer_cap_minor"),
])
def test_a_draft_that_breaks_a_money_rule_is_refused_naming_the_field(changes, field):
    assert field in policy.draft_problems(_fields(**changes), NOW)


def test_a_sound_draft_has_no_problems():
    assert policy.draft_problems(_fields(), NOW) == {}
    assert policy.draft_problems(_fields(per_buyer_cap_minor=None, per_buyer_window_days=None,
                                         shipping_covered_for=[], shipping_cap_minor=0),
                                 NOW) == {}


def test_a_refused_draft_saves_nothing(admins):
    ada, _bea = admins
    with pytest.raises(ValidationFailed) as refused:
        versions.draft_version(ada, _fields(total_cap_minor=0, filing_window_days=0))
    assert set(refused.value.fields) == {"total_cap_minor", "filing_window_days"}
    assert db.session.scalar(select(PolicyVersion).where(PolicyVersion.code == "2027-01")) is None


def test_only_admins_draft_and_publish(create_user, admins):
    advisor = create_user(roles=[Role.ADVISOR, Role.SENIOR, Role.FINANCE])
    with pytest.raises(NotAnAdministrator):
        versions.draft_version(advisor, _fields())
    draft = versions.draft_version(admins[0], _fields())
    with pytest.raises(NotAnAdministrator):
        versions.publish_version(draft.id, advisor)


def test_the_drafter_cannot_publish_and_the_database_agrees(admins):
    ada, _bea = admins
    draft = versions.draft_version(ada, _fields())
    with pytest.raises(versions.SecondAdministratorRequired):
        versions.publish_version(draft.id, ada)
    assert draft.status == VersionStatus.DRAFT
    with pytest.raises(IntegrityError), db.session.begin_nested():
        db.session.execute(update(PolicyVersion).where(PolicyVersion.id == draft.id).values(
            status=VersionStatus.PUBLISHED, published_by_id=ada.id, published_at=NOW))


def test_a_draft_judges_nothing_until_a_second_admin_publishes_it(admins, time_machine):
    ada, bea = admins
    draft = versions.draft_version(ada, _fields())

    def judged_by(paid_at):
        return services.quote_for(item_price=5_000_000, shipping_cost=20_000,
                                  payment_method=PaymentMethod.PLATFORM_PAYMENTS,
                                  claim_type=ClaimType.NOT_RECEIVED, paid_at=paid_at,
                                  now=paid_at + timedelta(days=1))

    assert judged_by(NEW_YEAR).policy_version == "2017-08"
    versions.publish_version(draft.id, bea)
    assert draft.status == VersionStatus.PUBLISHED and draft.published_by_id == bea.id
    # The second before the date and the date itself.
    before = judged_by(NEW_YEAR - timedelta(seconds=1))
    after = judged_by(NEW_YEAR)
    assert before.policy_version == "2017-08" and before.total == 1_000_000
    assert after.policy_version == "2027-01" and after.total == 2_000_000
    assert [entry.action for entry in db.session.scalars(
        select(AuditEntry).where(AuditEntry.object_type == "policy_versions",
                                 AuditEntry.object_id == str(draft.id))
        .order_by(AuditEntry.id))] == ["policy_version.drafted", "policy_version.published"]


def test_a_scheduled_version_can_be_withdrawn_before_its_date_only(admins, time_machine):
    ada, bea = admins
    first = versions.draft_version(ada, _fields())
    versions.publish_version(first.id, bea)
    versions.withdraw_version(first.id, ada)
    assert first.status == VersionStatus.WITHDRAWN
    assert [rules.version for rules in services.policy_versions()] == ["2017-08"]
    # Its date is free again for another version, which then takes effect.
    second = versions.draft_version(bea, _fields(code="2027-01b"))
    versions.publish_version(second.id, ada)
    time_machine.move_to(NEW_YEAR + timedelta(hours=1), tick=False)
    with pytest.raises(TransitionNotAllowed):
        versions.withdraw_version(second.id, ada)
    with pytest.raises(TransitionNotAllowed):  # the seeded version is not theirs to withdraw
        versions.withdraw_version(db.session.scalar(
            select(PolicyVersion.id).where(PolicyVersion.code == "2017-08")), ada)


def test_a_draft_whose_date_passed_is_not_published(admins, time_machine):
    ada, bea = admins
    draft = versions.draft_version(ada, _fields())
    time_machine.move_to(NEW_YEAR, tick=False)
    with pytest.raises(TransitionNotAllowed):
        versions.publish_version(draft.id, bea)


def test_two_versions_for_one_instant_cannot_both_be_published(admins):
    ada, bea = admins
    first = versions.draft_version(ada, _fields())
    second = versions.draft_version(ada, _fields(code="2027-01x", total_cap_minor=3_000_000))
    versions.publish_version(first.id, bea)
    with pytest.raises(TransitionNotAllowed) as refused:
        versions.publish_version(second.id, bea)
    assert refused.value.code == "effective_from_taken"
    assert second.status == VersionStatus.DRAFT


# --- the pages ---------------------------------------------------------------------------------


def _draft_form(**changes) -> dict:
    form = {"code": "2027-01", "effective_on": "2027-01-01",
            "covered_payment_methods": ["platform_payments", "bank_transfer"],
            "shipping_covered_for": ["platform_payments"], "shipping_cap": "150.00",
            "total_cap": "20000.00", "filing_window_days": "120",
            "documents_not_received": ["police_report"], "per_buyer_cap": "50000.00",
            "per_buyer_window_days": "365", "seller_answer_hours": "48",
            "appeal_window_days": "30"}
    return {**form, **changes}


def test_admins_draft_publish_and_the_rules_page_announces_the_change(app, client, auth,
                                                                       admins):
    ada, bea = admins
    browser = client
    auth.login(ada.email)
    refused = browser.post("/staff/policy-versions/new",
                           data=_draft_form(effective_on="2026-12-01", filing_window_days="0"))
    assert refused.status_code == 422
    assert "A window must be more than 0." in refused.text
    assert "Choose a date in the future" in refused.text
    for bad in ({"total_cap": "0"}, {"filing_window_days": "99999999999999"},
                {"code": "2027/01 <b>"}):
        assert browser.post("/staff/policy-versions/new",
                            data=_draft_form(**bad)).status_code == 422, bad
    saved = browser.post("/staff/policy-versions/new", data=_draft_form())
    assert saved.status_code == 302
    draft = db.session.scalar(select(PolicyVersion).where(PolicyVersion.code == "2027-01"))
    assert draft.effective_from == NEW_YEAR  # midnight in Warsaw
    assert draft.total_cap_minor == 2_000_000 and draft.per_buyer_cap_minor == 5_000_000
    own = browser.get(f"/staff/policy-versions/{draft.id}").text
    assert "Another administrator publishes the version you drafted." in own
    assert browser.post(f"/staff/policy-versions/{draft.id}/publish").status_code == 403
    assert "New rules from" not in app.test_client().get("/protection-rules").text
    auth.logout()
    auth.login(bea.email)
    assert browser.post(f"/staff/policy-versions/{draft.id}/publish").status_code == 302
    rules = app.test_client().get("/protection-rules", headers={"Accept-Language": "en"}).text
    assert 'data-announced="2027-01"' in rules
    changes = rules[rules.index("data-policy-changes"):rules.index("</table>")]
    assert 'data-field="total_cap_minor"' in changes and "20,000.00" in changes
    assert "10,000.00" in changes  # what it replaces
    assert 'data-field="filing_window_days"' in changes and "120 days" in changes
    assert 'data-field="covered_payment_methods"' not in changes  # unchanged
    polish = app.test_client().get("/protection-rules", headers={"Accept-Language": "pl"}).text
    assert "20\xa0000,00" in polish and "Nowe zasady od" in polish


def test_only_admins_reach_the_version_pages(client, auth, create_user, admins):
    advisor = create_user(roles=[Role.ADVISOR, Role.SENIOR, Role.FINANCE])
    auth.login(advisor.email)
    assert client.get("/staff/policy-versions").status_code == 403
    assert client.post("/staff/policy-versions/new", data=_draft_form()).status_code == 403
    assert db.session.scalar(select(PolicyVersion).where(PolicyVersion.code == "2027-01")) is None


# --- the API -----------------------------------------------------------------------------------


def test_the_api_lists_published_versions_and_quotes_under_a_named_one(client, admins):
    ada, bea = admins
    draft = versions.draft_version(ada, _fields())
    hidden = client.get("/api/v1/policy/versions").json
    assert [v["code"] for v in hidden] == ["2017-08"] and hidden[0]["in_force"] is True
    versions.publish_version(draft.id, bea)
    db.session.commit()
    listed = client.get("/api/v1/policy/versions").json
    assert [(v["code"], v["in_force"]) for v in listed] == [("2027-01", False),
                                                              ("2017-08", True)]
    assert listed[0]["total_cap"] == "20000.00" and listed[0]["per_buyer_window_days"] == 365
    query = {"item_price": "15000.00", "shipping_cost": "20.00",
             "payment_method": "platform_payments", "claim_type": "not_received",
             "paid_at": "2026-12-01T10:00:00+00:00"}
    assert client.get("/api/v1/policy/quote", query_string=query).json["total"] == "10000.00"
    named = client.get("/api/v1/policy/quote", query_string={**query, "version": "2027-01"})
    assert named.status_code == 200
    assert named.json["policy_version"] == "2027-01" and named.json["total"] == "15020.00"
    unknown = client.get("/api/v1/policy/quote", query_string={**query, "version": "1999-01"})
    assert unknown.status_code == 404


@pytest.mark.parametrize(("day", "midnight_utc"), [
    ("2026-03-29", datetime(2026, 3, 28, 23, 0, tzinfo=UTC)),  # CET: the clocks go forward
    ("2026-10-25", datetime(2026, 10, 24, 22, 0, tzinfo=UTC)),  # CEST: the clocks go back
])
def test_a_version_starting_on_a_dst_day_judges_from_warsaw_midnight(
        client, auth, create_user, time_machine, day, midnight_utc):
    time_machine.move_to("2026-03-01T12:00:00Z", tick=False)
    ada = create_user(roles=[Role.ADMIN])
    bea = create_user(roles=[Role.ADMIN])
    auth.login(ada.email)
    assert client.post("/staff/policy-versions/new",
                       data=_draft_form(code=f"dst-{day}", effective_on=day)).status_code == 302
    draft = db.session.scalar(select(PolicyVersion).where(PolicyVersion.code == f"dst-{day}"))
    assert draft.effective_from == midnight_utc
    versions.publish_version(draft.id, bea)

    def judged_by(paid_at):
        return services.quote_for(item_price=1_000, shipping_cost=0,
                                  payment_method=PaymentMethod.PLATFORM_PAYMENTS,
                                  claim_type=ClaimType.NOT_RECEIVED, paid_at=paid_at,
                                  now=paid_at).policy_version

    assert judged_by(midnight_utc - timedelta(seconds=1)) == "2017-08"
    assert judged_by(midnight_utc) == f"dst-{day}"


# --- no policy number outside the policy ---------------------------------------------------------

# The 2017-08 numbers in the forms code and templates would write them: grosze literals,
# decimal and Polish amounts, the filing window, the seller's 48 h to answer a claim and
# the 30 days to appeal a claim decision. claims/policy.py holds them once, as
# the defaults of the first version; everything else reads the version that judged.
POLICY_NUMBERS = re.compile(
    r"(?<![\w.])(?:1_000_000|10_000)(?![\w.])"  # the caps in grosze
    r"|10[ ,.\u00a0]?000[.,]00|100[.,]00\s*(?:zł|PLN)"  # the caps as written for people
    r"|\b90 (?:days|dni)\b.*(?:claim|file|reklamac|zgłosz)"
    r"|\b48 ?(?:h\b|hours?\b|godz)"
    r"|\b30 (?:days|dni)\b.*(?:appeal|odwoł)|(?:appeal|odwoł).*\b30 (?:days|dni)\b", re.I)
SOURCES = ("accounts", "appeals", "claims", "disputes", "orders", "settlements", "signals",
           "integrations", "templates")


def test_no_policy_number_is_repeated_outside_the_policy_defaults():
    root = Path(__file__).resolve().parents[2]
    found = []
    for package in SOURCES:
        for path in sorted((root / package).rglob("*")):
            if path.suffix not in (".py", ".html", ".txt") or path == root / "claims/policy.py":
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if POLICY_NUMBERS.search(line):
                    found.append(f"{path.relative_to(root)}:{number}: {line.strip()}")
    assert found == []


def test_the_pattern_finds_what_it_should():
    for line in ("cap = 1_000_000", 'x = "10 000,00 zł"', "up to 100.00 zł", "10,000.00",
                 "within 90 days of payment, file a claim", "the seller answers within 48 h",
                 "seller_answer_due_at = submitted_at + 48 hours",
                 "either party may appeal within 30 days"):
        assert POLICY_NUMBERS.search(line), line


# --- impact: past claims replayed under a draft ------------------------------------------------


def _facts(claim_id, *, price, shipping=0, method="platform_payments", judged_by="2017-08",
           claim_type="not_as_described", claimed=None):
    paid = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)
    return policy.ClaimFacts(claim_id=claim_id, submitted_at=paid + timedelta(days=3),
                             paid_at=paid, item_price=price, shipping_cost=shipping,
                             payment_method=PaymentMethod(method),
                             claim_type=ClaimType(claim_type), claimed_amount=claimed,
                             judged_by=judged_by)


def test_replay_counts_eligibility_and_amount_changes_and_keeps_the_largest():
    old = policy.PolicyRules(version="2017-08", effective_from=datetime(2017, 8, 1, tzinfo=UTC))
    draft = policy.PolicyRules(
        version="2027-01", effective_from=NEW_YEAR,
        covered_payment_methods=frozenset({PaymentMethod.PLATFORM_PAYMENTS}),
        total_cap_minor=2_000_000, shipping_cap_minor=15_000)
    claims = [
        _facts(1, price=1_500_000, shipping=2_000),  # 10,000.00 -> 15,020.00
        _facts(2, price=50_000, shipping=12_000),  # shipping cap 100 -> 120: +20.00
        _facts(3, price=80_000, method="bank_transfer"),  # 800.00 -> not covered: -800.00
        _facts(4, price=30_000),  # the same either way
        _facts(5, price=3_000_000, shipping=50_000),  # 10,000.00 -> 20,000.00 (capped)
    ]
    impact = policy.replay(claims, draft, {"2017-08": old}, largest=3)
    assert impact.claims == 5
    assert impact.eligibility_changed == 1 and impact.amount_changed == 4
    assert impact.total_change == 502_000 + 2_000 - 80_000 + 0 + 1_000_000
    assert impact.median_change == 2_000  # of -80,000, 0, 2,000, 502,000, 1,000,000
    assert [(c.claim_id, c.change) for c in impact.largest] == [
        (5, 1_000_000), (1, 502_000), (3, -80_000)]
    assert impact.largest[2].eligible_before and not impact.largest[2].eligible_after


def test_an_admin_sees_a_drafts_impact_on_last_years_claims(client, auth, admins,
                                                             ready_order, time_machine):
    from tests.claims.helpers import file

    ada, _bea = admins
    expensive = file(ready_order(item_price=1_500_000, shipping_cost=2_000))
    file(ready_order(item_price=30_000, shipping_cost=0))
    draft = versions.draft_version(ada, _fields(covered_payment_methods=["platform_payments"]))
    db.session.commit()
    auth.login(ada.email)
    replayed = client.post(f"/staff/policy-versions/{draft.id}/impact")  # run in process
    assert replayed.status_code == 302
    page = client.get(replayed.location)
    assert page.status_code == 200
    assert 'data-figure="claims">2<' in page.text
    assert 'data-figure="amount_changed">1<' in page.text
    assert f'data-claim="{expensive.id}"' in page.text and "5,020.00" in page.text
    sheet = client.get(f"/staff/policy-versions/{draft.id}/impact.csv")
    assert sheet.status_code == 200 and sheet.mimetype == "text/csv"
    assert f"claim,{expensive.id},2017-08,10000.00,15020.00,1,5020.00" in sheet.text
    outside = client.post(f"/staff/policy-versions/{draft.id}/impact",
                          data={"from": "2025-01-01", "to": "2025-12-31"})
    assert 'data-figure="claims">0<' in client.get(outside.location).text
    assert client.post(f"/staff/policy-versions/{draft.id}/impact",
                       data={"from": "2026-12-10", "to": "2026-12-01"}).status_code == 422
