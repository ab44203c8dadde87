"""The public privacy page, in Polish and English, linked from every page's footer."""

import pytest


@pytest.mark.parametrize(("language", "heading", "rights"), [
    ("en", "Privacy: what we store and why", "Your rights and how to use them"),
    ("pl", "Prywatność: co przechowujemy i dlaczego", "Twoje prawa i jak z nich korzystać"),
])
def test_the_privacy_page_in_both_languages(client, language, heading, rights):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
    response = client.get("/privacy")
    assert response.status_code == 200  # public: no login
    assert f'<html lang="{language}">' in response.text
    assert heading in response.text and rights in response.text
    assert "support@arbiter.test" in response.text
    other = "Prywatność" if language == "en" else "Privacy: what we store"
    assert other not in response.text


def test_it_covers_every_kind_and_every_right(client):
    text = client.get("/privacy").text
    for words in ("Your account", "Logins", "Orders", "Discussions, messages and evidence",
                  "Protection claims", "Decision documents and payouts", "Problem reports",
                  "The audit log", "Your data exports",
                  # why, how long, and the decisions the page must state
                  "For how long", "payout is still waiting", "five years",
                  "contains the e-mail address you registered with",
                  "The last platform advisor account cannot be deleted",
                  "Download my data", "Delete my account", "Have your data corrected",
                  "UODO"):
        assert words in text, words


def test_the_footer_links_to_it(client, auth, buyer):
    assert 'href="/privacy"' in client.get("/").text
    auth.login(buyer.email)
    page = client.get("/account")
    assert 'href="/privacy"' in page.text
    assert 'href="/account/delete"' in page.text and "Download my data" in page.text
