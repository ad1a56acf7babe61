"""Fixtures the test files share."""

import pytest
from postgres_server import MISSING, postgres_server, server_folder


@pytest.fixture(scope="session")
def postgres():
    """One throwaway PostgreSQL server for the session; missing server programs fail the tests."""
    if server_folder() is None:
        pytest.fail(MISSING, pytrace=False)
    with postgres_server() as server:
        yield server
