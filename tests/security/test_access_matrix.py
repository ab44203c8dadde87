"""The object-access matrix over HTML pages and downloads.

Parties and staff see what the views grant, someone else's object is 404 (never a 403
that tells it exists), anonymous visitors are sent to log in. Staff pages (the dashboard,
its charts and CSV files, payouts) are 403 for everybody else: they hide no object. The
seller profile is public, and 404 for a user who has never sold anything. The seller of the
order is a party to its claim (claims/models.py ``Claim.can_view``, #18) and sees the claim
page, but never the buyer's documents (404, like any object that is not theirs).

Sessions (a replayed cookie after logout or a password change is refused) are covered in
tests/accounts/test_views.py, after account deletion in tests/accounts/test_deletion.py;
data-export downloads (owner only, 404 for everyone else) in tests/accounts/test_data_export.py.
"""

import pytest

from arbiter.storage import storage

# page -> expected status for each role
ROLES = ("buyer", "seller", "other_buyer", "other_seller", "staff", "anonymous")
MATRIX = {
    "order page": (200, 200, 404, 404, 200, 302),
    "discussion thread": (200, 200, 404, 404, 200, 302),
    "attachment download": (200, 200, 404, 404, 200, 302),
    "decision download": (200, 200, 404, 404, 200, 302),
    "claim page": (200, 200, 404, 404, 200, 302),
    "claim document download": (200, 404, 404, 404, 200, 302),
    # an appeal and its files: the two parties and staff (#19)
    "appeal page": (200, 200, 404, 404, 200, 302),
    "appeal file download": (200, 200, 404, 404, 200, 302),
    # staff pages: a logged-in non-staff user is refused outright (nothing to hide: the
    # page exists for everyone), anonymous visitors go to the login page
    "staff dashboard": (403, 403, 403, 403, 200, 302),
    "dashboard chart (SVG)": (403, 403, 403, 403, 200, 302),
    "dashboard chart (CSV)": (403, 403, 403, 403, 200, 302),
    "payouts": (403, 403, 403, 403, 200, 302),
    "appeals queue": (403, 403, 403, 403, 200, 302),
    # abuse signals: advisors only, never the buyer they are about (signals/)
    "signals ranking": (403, 403, 403, 403, 200, 302),
    "buyer's signals": (403, 403, 403, 403, 200, 302),
    # public: the seller profile shows a display name and two rates, nothing else
    "seller profile": (200, 200, 200, 200, 200, 200),
    "buyer-only user's profile": (404, 404, 404, 404, 404, 404),
}
DOWNLOADS = {"attachment download", "decision download", "claim document download",
             "appeal file download"}


def _urls(world) -> dict:
    d, c = world["discussion"], world["claim"]
    return {
        "order page": f"/orders/{world['order'].id}",
        "discussion thread": f"/discussions/{d.id}",
        "attachment download": f"/discussions/{d.id}/attachments/{world['attachment'].id}",
        "decision download": f"/decisions/{world['decision'].number}/download",
        "claim page": f"/claims/{c.id}",
        "claim document download": f"/claims/{c.id}/documents/{world['claim_document'].id}",
        "appeal page": f"/appeals/{world['appeal'].id}",
        "appeal file download": f"/appeals/{world['appeal'].id}/files/{world['appeal_file'].id}",
        "appeals queue": "/staff/appeals",
        "signals ranking": "/staff/signals",
        "buyer's signals": f"/staff/signals/accounts/{world['users']['buyer'].id}",
        "staff dashboard": "/staff/dashboard/charts",
        "dashboard chart (SVG)": "/staff/dashboard/charts/claims_by_state.svg",
        "dashboard chart (CSV)": "/staff/dashboard/charts/paid_per_week.csv",
        "payouts": "/staff/payouts",
        "seller profile": f"/sellers/{world['users']['seller'].id}",
        "buyer-only user's profile": f"/sellers/{world['users']['other_buyer'].id}",
    }


def _stored(world, page) -> bytes:
    key = {"attachment download": world["attachment"].storage_key,
           "decision download": world["decision"].storage_key,
           "claim document download": world["claim_document"].storage_key,
           "appeal file download": world["appeal_file"].storage_key}[page]
    return storage().get(key)


@pytest.mark.parametrize("role", ROLES)
def test_object_access_matrix(client, auth, world, role):
    if role != "anonymous":
        auth.login(world["users"][role].email)
    urls = _urls(world)
    for page, expected in MATRIX.items():
        status = expected[ROLES.index(role)]
        response = client.get(urls[page])
        assert response.status_code == status, (role, page)
        if status == 302:
            assert response.headers["Location"].startswith("/login?next=")
        if status == 404:
            # nothing of the object leaks into the refusal
            assert world["order"].item_title not in response.text
        if status == 200 and page in DOWNLOADS:
            assert response.headers["Content-Disposition"].startswith("attachment;")
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert response.data == _stored(world, page)
        response.close()


@pytest.mark.parametrize("role", ["buyer", "seller", "other_buyer", "other_seller", "staff"])
def test_a_download_through_someone_elses_case_is_404(client, auth, world, create_discussion,
                                                      role):
    """An attachment id under a discussion it does not belong to is not served."""
    user = world["users"][role]
    mine = create_discussion(buyer=user) if role != "staff" else create_discussion()
    auth.login(user.email)
    url = f"/discussions/{mine.id}/attachments/{world['attachment'].id}"
    assert client.get(url).status_code == 404
    claim_url = f"/claims/{world['claim'].id + 1000}/documents/{world['claim_document'].id}"
    assert client.get(claim_url).status_code == 404


def test_ids_beyond_a_bigint_are_404_on_every_route(app, client, auth, staff):
    """Every ``<int:…>`` route, as staff (who may see everything): 2^63 is a 404, never a
    database overflow (it was a 500 on PostgreSQL)."""
    auth.login(staff.email)
    huge = str(2**63)
    checked = 0
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or "<int:" not in rule.rule or rule.rule.startswith("/api/"):
            continue
        path = rule.rule
        for argument in rule.arguments:
            path = path.replace(f"<int:{argument}>", huge).replace(f"<{argument}>", "x")
        response = client.get(path)
        assert response.status_code == 404, (path, response.status_code)
        checked += 1
    assert checked >= 10


# Every staff action on a case, as a form would post it.
STAFF_ACTIONS = {
    "/discussions/{discussion_id}/take": {},
    "/discussions/{discussion_id}/information-requests": {"party": "seller",
                                                         "question": "Tracking?"},
    "/discussions/{discussion_id}/decide": {
        "verdict": "buyer_favour", "rationale": "The seller never answered the buyer at all."},
    "/claims/{claim_id}/take": {},
    "/claims/{claim_id}/document-requests": {"what": "The invoice."},
    "/claims/{claim_id}/decide": {"decision": "approved"},
    "/claims/{claim_id}/reject-after-deadline": {},
    "/claims/{claim_id}/second-approval/confirm": {"confirm_amount": "1.00"},
    "/claims/{claim_id}/second-approval/send-back": {"reason": "The invoice does not add up."},
    "/appeals/{appeal_id}/take": {},
    "/appeals/{appeal_id}/read": {"item": "decision"},
    "/appeals/{appeal_id}/decide": {
        "outcome": "upheld", "rationale": "The photos were read; the verdict stands as it is."},
}


@pytest.mark.parametrize("party", ["buyer", "seller"])
def test_staff_who_are_a_party_see_the_case_as_a_party_and_act_on_none_of_it(
        client, auth, world, party):
    """The world's buyer (or seller) is made staff (issue 25): the case's pages still open,
    every staff action on it is refused (403) and changes nothing."""
    from arbiter import audit
    from arbiter.extensions import db

    user = world["users"][party]
    from accounts.models import RoleGrant
    from accounts.roles import Role
    from arbiter import clock
    from tests.factories import enrol

    user.role_grants = [RoleGrant(role=role, granted_at=clock.now()) for role in Role]
    enrol(user)
    db.session.commit()
    auth.login(user.email)
    urls = _urls(world)
    for page in ("order page", "discussion thread", "claim page", "appeal page"):
        assert client.get(urls[page]).status_code == 200, page
    before = audit.count()
    for action, form in STAFF_ACTIONS.items():
        response = client.post(action.format(**world["args"]), data=form)
        assert response.status_code == 403, action
    assert audit.count() == before
