"""The claims fixtures the dashboard tests build their claims with."""

from tests.claims.conftest import ready_order  # noqa: F401 (a fixture)
