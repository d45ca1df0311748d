"""Fixtures for the portal's in-process tests: the app and Flask's test client.

The database, instance, investigators and facilities come from
``tests/conftest.py``, shared with the browser tests.
"""

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from portal import create_app
from portal.db import make_session_factory
from portal.services import statistics_tallies

# Every keyholder's unread mark says what its case and the keyholder's last reading say. The
# database keeps the mark (triggers of migration 0021); whatever a test did to its cases, through
# any path, the two must agree when it ends.
UNREAD_MARKS_WRONG = text(
    "SELECT count(*) FROM keyholders JOIN cases ON cases.id = keyholders.case_id "
    "WHERE keyholders.unread <> (cases.last_reporter_item_id > keyholders.seen_item_id)")


# A test that left no case and no count has nothing to recount.
COUNTED_ANYTHING = text(
    "SELECT EXISTS (SELECT 1 FROM cases) OR EXISTS (SELECT 1 FROM statistics_places) "
    "OR EXISTS (SELECT 1 FROM statistics_categories) OR EXISTS (SELECT 1 FROM statistics_answered) "
    "OR EXISTS (SELECT 1 FROM statistics_waiting) OR EXISTS (SELECT 1 FROM statistics_forwards)")


@pytest.fixture
def app(app_config, investigators, facility_ids):
    application = create_app(app_config)
    application.config["TESTING"] = True
    yield application
    engine = application.extensions["portal.engine"]
    try:
        with engine.connect() as connection:
            wrong = connection.execute(UNREAD_MARKS_WRONG).scalar()
        # The statistics' running counts, kept by the database too (migration 0027), against a
        # recount from the cases.
        with make_session_factory(engine)() as session:
            miscounted = statistics_tallies.disagreements(session) if session.scalar(COUNTED_ANYTHING) else []
    except DBAPIError:
        wrong, miscounted = 0, []  # a test that took the database away on purpose
    engine.dispose()
    assert not wrong, f"{wrong} keyholder rows' unread marks disagree with their cases"
    assert not miscounted, "statistics counts disagree with the cases: " + "; ".join(miscounted[:10])


@pytest.fixture
def client(app):
    return app.test_client()
