"""Issue 21 in a real browser: an admin drafts a version of the protection rules with a
higher cap and a per-buyer limit, looks at its impact on past claims, a second admin
publishes it for next month, and the public rules page announces what changes.

Every step is photographed at 1280 px and at 375 px; at 375 px nothing may make the page
scroll sideways.
"""

from datetime import timedelta

import pytest

from accounts.roles import Role
from arbiter import clock as arbiter_clock
from tests.e2e.conftest import expect
from tests.e2e.test_case_journeys import both, follow, goto, submit
from tests.e2e.test_money_controls import _person

pytestmark = pytest.mark.e2e

ADA, BEA = "ada.admin@example.test", "bea.admin@example.test"
SEEN = {"pl": {"cap": "20 000,00 zł", "old_cap": "10 000,00 zł"},
        "en": {"cap": "PLN 20,000.00", "old_cap": "PLN 10,000.00"}}


def test_two_admins_publish_a_version_and_the_rules_page_announces_it(cast, world, lang,
                                                                      text):
    t, seen = text, SEEN[lang]
    _person(world, ADA, "Ada Nowicka", lang, [Role.ADMIN])
    _person(world, BEA, "Beata Lis", lang, [Role.ADMIN])
    next_month = (arbiter_clock.to_local(arbiter_clock.now()).date() + timedelta(days=30))

    # --- 1. Ada drafts the version --------------------------------------------------------------
    ada = cast("ada")
    ada.login(ADA)
    goto(ada, "/staff/policy-versions", "versions")
    follow(ada, ada.page.locator("main").get_by_role("link", name=t("Draft a new version")),
           "draft-form")
    ada.field(t("Version code")).fill("2027-B")
    ada.field(t("In force for orders paid from")).fill(next_month.isoformat())
    for name, value in (("covered_payment_methods", "platform_payments"),
                        ("covered_payment_methods", "bank_transfer"),
                        ("shipping_covered_for", "platform_payments"),
                        ("documents_not_received", "police_report"),
                        ("documents_not_as_described", "supporting")):
        ada.page.locator(f"input[name={name}][value={value}]").check()
    ada.field(t("Shipping cap (PLN)")).fill("100")
    ada.field(t("Cap per claim, item and shipping together (PLN)")).fill("20000")
    ada.field(t("Filing window (days after payment)")).fill("90")
    ada.field(t("Per-buyer cap (PLN, optional)")).fill("50000")
    ada.field(t("Over the last (days, optional)")).fill("365")
    ada.field(t("The seller may answer a claim within (hours after filing)")).fill("72")
    ada.field(t("A claim decision may be appealed within (days after the decision)")).fill("14")
    submit(ada, ada.button(t("Save the draft")), "drafted")
    expect(ada.page.locator("main")).to_contain_text(
        t("Another administrator publishes the version you drafted."))
    changes = ada.page.locator("[data-policy-changes]")
    expect(changes.locator("[data-field=total_cap_minor]")).to_contain_text(seen["cap"])
    expect(changes.locator("[data-field=total_cap_minor]")).to_contain_text(seen["old_cap"])
    follow(ada, ada.page.get_by_role("link", name=t("Impact on the claims of the last 12 months")),
           "impact")
    expect(ada.page.locator("[data-impact-state=none]")).to_be_visible()
    # A replay asked for a moment ago (in another tab), its worker not started yet: the
    # page shows its progress bar, then shows the figures by itself once the worker is done.
    run_id = _queued_replay(world, "2027-B", ADA)
    goto(ada, ada.page.url.removeprefix(ada.server.url), "impact-queued")
    expect(ada.page.locator("main progress")).to_be_visible()
    expect(ada.page.locator("main")).to_contain_text(
        t("The replay is queued and starts in a moment."))
    _started(world, run_id, processed=1, total=2)  # the bar follows the worker, no reload
    expect(ada.page.locator("main progress")).to_have_js_property("max", 2)
    expect(ada.page.locator("main progress")).to_have_js_property("value", 1)
    _work_on(world, run_id)
    expect(ada.page.locator("[data-figure=claims]")).to_have_text("0", timeout=10_000)
    both(ada, "impact-done")
    submit(ada, ada.button(t("Replay again")), "impact-replayed")  # run in the server process
    expect(ada.page.locator("[data-figure=claims]")).to_have_text("0")
    expect(ada.page.locator("main progress")).to_have_count(0)

    # --- 2. Bea publishes it ---------------------------------------------------------------------
    bea = cast("bea")
    bea.login(BEA)
    goto(bea, "/staff/policy-versions", "versions-bea")
    follow(bea, bea.page.locator("main").get_by_role("link", name="2027-B"), "version-bea")
    submit(bea, bea.button(t("Publish")), "published")
    expect(bea.flash()).to_have_text(t("The version is published: the rules page announces it."))

    # --- 3. anyone reads the announcement ---------------------------------------------------------
    reader = cast("reader")
    goto(reader, "/protection-rules", "rules-announced")
    announced = reader.page.locator("[data-announced='2027-B']")
    expect(announced).to_be_visible()
    expect(announced.locator("[data-field=total_cap_minor]")).to_contain_text(seen["cap"])
    expect(announced.locator("[data-field=per_buyer_cap_minor]")).to_be_visible()
    expect(announced.locator("[data-field=seller_answer_hours]")).to_contain_text("72")
    expect(announced.locator("[data-field=appeal_window_days]")).to_contain_text("14")
    expect(announced.locator("[data-field=documents_required]")).to_contain_text(
        t("at least one supporting document"))


def _queued_replay(world, code: str, email: str) -> int:
    """An impact replay of the last 12 months as the page's request leaves it (queued),
    its worker not started."""
    from sqlalchemy import select

    from accounts.models import User
    from arbiter.extensions import db
    from claims.models import ImpactRun, ImpactRunState, PolicyVersion
    from dashboards.policy import Period

    with world.app.app_context():
        today = arbiter_clock.to_local(arbiter_clock.now()).date()
        version_id = db.session.scalar(select(PolicyVersion.id).where(PolicyVersion.code == code))
        run = ImpactRun(
            version_id=version_id,
            requested_by_id=db.session.scalar(select(User.id).where(User.email == email)),
            period_start=today - timedelta(days=364), period_end=today,
            state=ImpactRunState.QUEUED, processed=0, requested_at=arbiter_clock.now())
        assert Period(run.period_start, run.period_end).days == 365
        db.session.add(run)
        db.session.commit()
        run_id = run.id
        db.session.remove()
    return run_id


def _started(world, run_id: int, *, processed: int, total: int) -> None:
    """The worker's progress, as it commits it every so many claims."""
    from sqlalchemy import update

    from arbiter.extensions import db
    from claims.models import ImpactRun, ImpactRunState

    with world.app.app_context():
        db.session.execute(update(ImpactRun).where(ImpactRun.id == run_id).values(
            state=ImpactRunState.RUNNING, processed=processed, total=total))
        db.session.commit()
        db.session.remove()


def _work_on(world, run_id: int) -> None:
    """What the worker does with the run (claims.tasks.replay_impact)."""
    from arbiter.extensions import db
    from claims import impact

    with world.app.app_context():
        impact.run(run_id)
        db.session.remove()
