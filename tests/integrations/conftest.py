import pytest

from tests.integrations.receiver import Receiver


@pytest.fixture
def receiver(local_receiver_allowed):
    """A webhook receiver on 127.0.0.1, which this test (only) may deliver to."""
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def staff_browser(app, staff, auth, client):
    auth.login(staff.email)
    return client
