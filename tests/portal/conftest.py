"""Fixtures for the portal's in-process tests: the app and Flask's test client.

The database, instance, investigators and facilities come from
``tests/conftest.py``, shared with the browser tests.
"""

import pytest

from portal import create_app


@pytest.fixture
def app(app_config, investigators, facility_ids):
    application = create_app(app_config)
    application.config["TESTING"] = True
    yield application
    application.extensions["portal.engine"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()
