"""Requests that answered 500 (issue 25 item 10) answer their 4xx and change nothing."""

import pytest

DEEP = ("[" * 100_000 + "]" * 100_000).encode()
DEEP_OBJECT = ('{"a":' * 50_000 + "1" + "}" * 50_000).encode()


@pytest.mark.parametrize("body", [DEEP, DEEP_OBJECT])
@pytest.mark.parametrize("path", ["/api/v1/auth/tokens", "/api/v1/discussions",
                                  "/login"])
def test_deeply_nested_json_is_refused_without_login(client, path, body):
    response = client.post(path, data=body, content_type="application/json")
    assert response.status_code == 400, response.data[:300]
    if path.startswith("/api/"):
        assert response.get_json()["error"]["code"] == "bad_request"


@pytest.mark.parametrize("body", [DEEP, DEEP_OBJECT])
def test_deeply_nested_json_is_refused_with_a_token(api, buyer, token_for, body):
    response = api.post("/api/v1/discussions", token=token_for(buyer), data=body,
                        content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "bad_request"


HUGE_CURSORS = ["1.99999999999999999999999999", "99999999999999999999999.1",
                "-99999999999999999999.1", "1." + "9" * 5000, "9" * 5000 + ".1",
                "1.-1", "nan.1", "1e400.1"]


@pytest.mark.parametrize("cursor", HUGE_CURSORS)
def test_huge_cursors_on_pages(client, auth, buyer, staff, cursor):
    auth.login(buyer.email)
    assert client.get("/discussions", query_string={"after": cursor}).status_code in (200, 422)
    assert client.get("/seller/inbox", query_string={"after": cursor}).status_code in (200, 422)


@pytest.mark.parametrize("cursor", [c for c in HUGE_CURSORS if len(c) <= 64])
def test_huge_cursors_in_the_api(api, buyer, token_for, cursor):
    token = token_for(buyer)
    for path in ("/api/v1/discussions", "/api/v1/claims", "/api/v1/appeals",
                 "/api/v1/sales/claims"):
        response = api.get(path, token=token, query_string={"after": cursor})
        assert response.status_code in (200, 422), (path, response.status_code)


@pytest.mark.parametrize("page", ["99999999999999999999999", str(2**63), "-5", "0"])
def test_huge_page_numbers(client, auth, buyer, page):
    auth.login(buyer.email)
    for path in ("/purchases", "/sales"):
        response = client.get(path, query_string={"page": page})
        assert response.status_code in (404, 422), (path, response.status_code)


@pytest.mark.parametrize("hours", ["99999999999999999999", str(2**40), "-1", "0"])
def test_a_huge_older_than_is_refused(client, auth, staff, hours):
    auth.login(staff.email)
    assert client.get("/staff/escalations", query_string={"older_than": hours}
                      ).status_code == 422


def test_a_line_break_in_next_after_login_goes_home(client, buyer):
    for target in ("/discussions\r\nSet-Cookie: x=1", "/claims\nLocation: //evil.example",
                   "/\x00"):
        response = client.post("/login", query_string={"next": target},
                               data={"email": buyer.email, "password": "correct horse battery"})
        assert response.status_code in (302, 200)
        assert "\n" not in response.headers.get("Location", "")
