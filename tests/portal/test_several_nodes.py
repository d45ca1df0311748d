"""Two app processes on two loopback ports against one database: the app keeps
no state of its own. A report sent through one is followed up through the
other; an investigator's session moves between them; the receipt-guessing
budget holds across both."""

import os
import time

import pyotp
from accounts import passphrase_of, totp_secret_of
from http_client import Browser
from live_server import Server
from reporter_pages import right_looking_receipts

ATTEMPTS_PER_MINUTE = 4


def report_fields(page, facility):
    return {"csrf_token": page.csrf(), "facility": str(facility), "categories": "wages",
            "description": "Overtime unpaid since October.", "ongoing": "yes", "people_affected": "many",
            "consent": "without_identity", "recipient_choice": "contractor"}


def test_two_nodes_share_reports_sessions_and_the_receipt_budget(
        database_url, session_factory, recovery_identity, investigators, facility_ids, tmp_path):
    nodes = [Server(database_url, tmp_path / "instance", tmp_path / f"node{n}.log", workers=1,
                    RECEIPT_ATTEMPTS_PER_MINUTE=ATTEMPTS_PER_MINUTE).start() for n in (1, 2)]
    one, two = nodes
    try:
        worker = Browser()
        form = worker.get(f"{one.origin}/en/report")
        receipt = worker.post(f"{one.origin}/en/report", report_fields(form, facility_ids[0])).receipt()

        follower = Browser()
        page = follower.get(f"{two.origin}/en/follow-up")
        opened = follower.post(f"{two.origin}/en/follow-up", {"csrf_token": page.csrf(), "receipt": receipt})
        assert opened.status == 200 and opened.url.endswith("/en/case")
        assert "Overtime unpaid since October." in opened.text

        anna = Browser()
        login = anna.get(f"{one.origin}/inbox/login")
        code = pyotp.TOTP(totp_secret_of("anna")).now()
        listed = anna.post(f"{one.origin}/inbox/login", {"csrf_token": login.csrf(), "username": "anna",
                                                         "passphrase": passphrase_of("anna"), "code": code})
        assert listed.status == 200 and listed.url == f"{one.origin}/inbox/"
        on_two = anna.get(f"{two.origin}/inbox/")
        assert on_two.status == 200 and on_two.url == f"{two.origin}/inbox/" and "Log out" in on_two.text

        guesser = Browser()
        answers = []
        # Guesses whose check code is right: only those cost a look-up and spend the budget.
        for attempt, guess in enumerate(right_looking_receipts(session_factory, ATTEMPTS_PER_MINUTE + 2)):
            node = nodes[attempt % 2]
            page = guesser.get(f"{node.origin}/en/follow-up")
            answers.append(guesser.post(f"{node.origin}/en/follow-up",
                                        {"csrf_token": page.csrf(), "receipt": guess}).status)
        assert answers[:ATTEMPTS_PER_MINUTE - 1] == [403] * (ATTEMPTS_PER_MINUTE - 1)
        assert answers[-2:] == [429, 429], answers
    finally:
        for node in nodes:
            node.stop()


# A Redis database of each run's own: CI runs the suite on SQLite and on PostgreSQL at the same time.
REDIS_URL = "redis://127.0.0.1:6379/" + ("14" if os.environ.get("PORTAL_TEST_DATABASE_URL") else "15")


def test_with_redis_configured_the_receipt_budget_is_kept_in_redis_for_every_node(
        app_config, session_factory, recovery_identity, investigators, facility_ids):
    import os

    import pytest
    import redis
    from reporter_pages import log_in_with_receipt, receipt_on, send_report
    from sqlalchemy import func, select

    from portal import create_app
    from portal.models import Budget

    try:
        store = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
        store.ping()
    except redis.RedisError:
        message = "Redis does not answer at 127.0.0.1:6379"
        if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
            pytest.fail(message)
        pytest.skip(message)
    for key in store.scan_iter("portal:budget:*"):
        store.delete(key)
    nodes = [create_app(dict(app_config, REDIS_URL=REDIS_URL, RECEIPT_ATTEMPTS_PER_MINUTE=3)) for _ in range(2)]
    # Redis keeps one counter per clock minute: do not start just before a new one.
    if time.time() % 60 > 45:
        time.sleep(61 - time.time() % 60)
    try:
        # A receipt that opens its case gives its look-up back, to Redis's counter as well.
        receipt = receipt_on(send_report(nodes[0].test_client(), facility_ids[0]))
        assert [log_in_with_receipt(nodes[n % 2].test_client(), receipt).status_code for n in range(4)] == [303] * 4
        assert sum(int(store.get(key)) for key in store.scan_iter("portal:budget:receipt-attempts:*")) == 0
        statuses = [log_in_with_receipt(nodes[n % 2].test_client(), guess).status_code
                    for n, guess in enumerate(right_looking_receipts(session_factory, 5))]
        assert statuses == [403, 403, 403, 429, 429], statuses
        assert list(store.scan_iter("portal:budget:receipt-attempts:*"))
        with session_factory() as session:
            assert session.scalar(select(func.count()).select_from(Budget)) == 0
    finally:
        for node in nodes:
            node.extensions["portal.engine"].dispose()
        for key in store.scan_iter("portal:budget:*"):
            store.delete(key)
