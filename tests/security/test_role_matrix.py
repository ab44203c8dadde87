"""The role access matrix (issue 20): each role reaches exactly its pages and API endpoints.

The routes are discovered, not listed: every url_map rule whose view names the roles it
requires (``required_roles``, set by ``accounts.auth.role_required`` for pages and
``integrations.auth.role_required`` for the API) is requested, with every method it
answers, by one person per role holding only that role (a senior holds the advisor role
too). A role the view allows is never refused with 403; every other role is refused with
403, and a refused POST changes nothing (no row anywhere, no audit entry). A route under
/staff or /api/v1/staff without ``required_roles`` fails the test: a new staff page cannot
forget to name its role.

Token scopes (issue 25 item 6): every route an integration token reaches names the scope
it needs (``required_scope``, set by ``integrations.auth.integration_required`` and
``token_required``); each is requested with a token lacking each scope in turn, which is
refused with 403 ``insufficient_scope`` exactly where that scope is needed, changing
nothing, and a token holding only the needed scope is let through.
"""

import re

import pytest
from sqlalchemy import func, literal_column, select

from accounts.roles import Role, effective
from arbiter.extensions import db
from integrations import tokens
from integrations.models import Scope, TokenKind
from tests.factories import logged_in

STAFF_PREFIXES = ("/staff", "/api/v1/staff")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def staff_rules(app):
    """(rule, required roles) of every route whose view requires roles, by path."""
    found = []
    for rule in app.url_map.iter_rules():
        roles = getattr(app.view_functions[rule.endpoint], "required_roles", None)
        if roles:
            found.append((rule, frozenset(roles)))
    return sorted(found, key=lambda item: (item[0].rule, item[0].endpoint))


def fill(rule, args: dict) -> str:
    """The path with each argument replaced by the id of a real object (1 for an argument
    no world object names, so a new route is still requested)."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: str(args.get(m.group(1), 1)),
                  rule.rule)


def allowed(role: Role, required: frozenset) -> bool:
    return not effective({role}).isdisjoint(required)


def _footprint():
    """How many rows every table holds: one statement, compared before and after."""
    counts = [select(func.count()).select_from(table).scalar_subquery()
              for table in db.metadata.sorted_tables]
    return tuple(db.session.execute(select(*counts) if counts else select(literal_column("1")))
                 .one())


def test_every_staff_route_names_its_roles(app):
    missing = [rule.rule for rule in app.url_map.iter_rules()
               if rule.rule.startswith(STAFF_PREFIXES)
               and not getattr(app.view_functions[rule.endpoint], "required_roles", None)]
    assert missing == []


@pytest.fixture
def role_users(create_user):
    return {role: create_user(f"only-{role.value}@example.test", name=f"Only {role.value}",
                              roles=[role]) for role in Role}


def test_each_role_reaches_exactly_its_routes(app, world, role_users):
    rules = staff_rules(app)
    assert len(rules) >= 40  # the pages and API endpoints of issue 20 and before
    args = {**world["args"], "user_id": world["users"]["other_buyer"].id,
            "item": "decision", "token": "x", "token_id": 1}
    browsers, bearer = {}, {}
    for role, user in role_users.items():
        bearer[role] = tokens.issue_user_token(user, "matrix").token
        db.session.commit()
        browser = browsers[role] = app.test_client()
        browser.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
        assert logged_in(browser, user).status_code == 302

    problems, checked = [], 0
    reached = {role: 0 for role in Role}
    for rule, required in rules:
        path = fill(rule, args)
        is_api = rule.rule.startswith("/api/")
        for method in sorted(set(rule.methods) & set(METHODS)):
            # refused roles first: their requests must leave everything as it was
            for role in sorted(Role, key=lambda r: allowed(r, required)):
                kwargs = {"method": method}
                if is_api:
                    kwargs["headers"] = {"Authorization": f"Bearer {bearer[role]}"}
                    if method != "GET":
                        kwargs["json"] = {}
                    client = app.test_client()
                else:
                    client = browsers[role]
                before = _footprint() if method != "GET" else None
                response = client.open(path, **kwargs)
                status = response.status_code
                response.close()
                checked += 1
                if allowed(role, required):
                    reached[role] += 1
                    if status == 403:
                        problems.append(f"{method} {path}: {role} refused (403)")
                elif status != 403:
                    problems.append(f"{method} {path}: {role} got {status}, not 403")
                elif before is not None:
                    db.session.expire_all()
                    if _footprint() != before:
                        problems.append(f"{method} {path}: a refused {role} changed rows")
    assert problems == []
    assert checked >= 4 * len(rules)
    assert all(reached.values()), reached  # every role reaches something


# --- integration token scopes ----------------------------------------------------------------

# Any token may revoke itself: the one integration route that needs no scope.
SCOPE_FREE = {"/api/v1/auth/tokens/current"}


def integration_rules(app):
    """(rule, the scope it needs) of every route an integration token may call."""
    found = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        if TokenKind.INTEGRATION in (getattr(view, "_api_auth", None) or ()):
            found.append((rule, getattr(view, "required_scope", None)))
    return sorted(found, key=lambda item: (item[0].rule, item[0].endpoint))


def test_every_integration_route_names_its_scope(app):
    rules = integration_rules(app)
    assert len(rules) >= 10
    assert [rule.rule for rule, scope in rules
            if not isinstance(scope, Scope) and rule.rule not in SCOPE_FREE] == []
    assert {scope for _, scope in rules if scope is not None} == set(Scope)  # none unused


def test_a_token_lacking_a_scope_is_refused_exactly_where_it_is_needed(app, world):
    rules = integration_rules(app)
    order = world["order"]
    order.integration = "without-nothing"  # the owner holds every scope
    db.session.commit()
    args = {**world["args"], "external_id": order.external_id}
    lacking = {scope: tokens.create_integration_token(
        f"without-{scope.value}", scopes=set(Scope) - {scope}).token for scope in Scope}
    only = {scope: tokens.create_integration_token(
        f"only-{scope.value}", scopes=[scope]).token for scope in Scope}
    db.session.commit()

    problems, refusals = [], 0
    # Revoking the token itself last: it is the one thing every token may do.
    for rule, needed in sorted(rules, key=lambda item: item[0].rule in SCOPE_FREE):
        path = fill(rule, args)
        for method in sorted(set(rule.methods) & set(METHODS)):
            kwargs = {"method": method, "json": {}} if method != "GET" else {"method": method}
            for scope, token in lacking.items():
                before = _footprint() if method != "GET" else None
                response = app.test_client().open(
                    path, headers={"Authorization": f"Bearer {token}"}, **kwargs)
                code = (response.get_json(silent=True) or {}).get("error", {}).get("code")
                refused = response.status_code == 403 and code == "insufficient_scope"
                if scope == needed:
                    refusals += 1
                    if not refused:
                        problems.append(f"{method} {path} without {scope}: "
                                        f"{response.status_code} {code}")
                    elif before is not None:
                        db.session.expire_all()
                        if _footprint() != before:
                            problems.append(f"{method} {path}: refused, changed rows")
                elif refused:
                    problems.append(f"{method} {path} refused for lacking {scope}")
            if needed is not None:
                response = app.test_client().open(
                    path, headers={"Authorization": f"Bearer {only[needed]}"}, **kwargs)
                if response.status_code in (401, 403):
                    problems.append(f"{method} {path} with only {needed}: "
                                    f"{response.status_code}")
    assert problems == []
    assert refusals >= len(rules) - len(SCOPE_FREE)
