"""Two admins publishing two versions for the same instant at once (real PostgreSQL)."""

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from threading import Barrier

import pytest
from sqlalchemy import delete, func, select

from accounts import services as accounts
from accounts.roles import Role
from arbiter.extensions import db
from claims import versions
from claims.models import PolicyVersion, VersionStatus
from tests.conftest import FreshContextClient
from tests.factories import PASSWORD, logged_in

pytestmark = [pytest.mark.postgres_only, pytest.mark.race]
NEW_YEAR = datetime(2031, 12, 31, 23, 0, tzinfo=UTC)  # 1 January 2032 in Warsaw
FIELDS = {"effective_from": NEW_YEAR, "covered_payment_methods": ["platform_payments"],
          "shipping_covered_for": [], "shipping_cap_minor": 0, "filing_window_days": 90,
          "documents_required": {}, "per_buyer_cap_minor": None,
          "per_buyer_window_days": None, "seller_answer_hours": 48, "appeal_window_days": 30}


def _browser(app, user):
    browser = FreshContextClient(app, app.response_class, use_cookies=True)
    browser.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    assert logged_in(browser, user).status_code == 302
    return browser


def test_two_versions_published_for_one_instant_at_once_one_wins(committed):
    app = committed
    try:
        drafter = accounts.create_user("drafter@example.com", "D", PASSWORD, roles=[Role.ADMIN])
        ada = accounts.create_user("ada@example.com", "Ada", PASSWORD, roles=[Role.ADMIN])
        bea = accounts.create_user("bea@example.com", "Bea", PASSWORD, roles=[Role.ADMIN])
        drafts = [versions.draft_version(drafter, {**FIELDS, "code": code,
                                                   "total_cap_minor": cap})
                  for code, cap in (("2032-A", 2_000_000), ("2032-B", 3_000_000))]
        db.session.commit()
        pairs = list(zip([_browser(app, ada), _browser(app, bea)],
                         [draft.id for draft in drafts], strict=True))
        barrier = Barrier(2)

        def publish(pair):
            browser, version_id = pair
            barrier.wait()
            return browser.post(f"/staff/policy-versions/{version_id}/publish").status_code

        with ThreadPoolExecutor(max_workers=2) as pool:
            statuses = sorted(pool.map(publish, pairs))
        assert statuses == [302, 409], statuses
        db.session.remove()
        assert db.session.scalar(select(func.count()).select_from(PolicyVersion).where(
            PolicyVersion.effective_from == NEW_YEAR,
            PolicyVersion.status == VersionStatus.PUBLISHED)) == 1
    finally:
        db.session.remove()
        # policy_versions is kept between tests (its first version is seeded): ours go.
        db.session.execute(delete(PolicyVersion).where(PolicyVersion.drafted_by_id.is_not(None)))
        db.session.commit()
