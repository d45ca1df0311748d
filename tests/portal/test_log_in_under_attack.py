"""Someone who knows a username tries to get in, or to keep its owner out:
parallel guesses, one code sent many times at once, guesses from a stolen
session, and a flood of made-up names. Each attempt is counted before it is
checked, each code opens one session, the owner always has a way in, and the
made-up names leave nothing behind."""

import os
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pyotp
import pytest
from accounts import passphrase_of, totp_secret_of
from argon2 import PasswordHasher
from click.testing import CliRunner
from flask_babel import force_locale, gettext
from http_client import Browser
from inbox_pages import STRONG, activate, current_code, link_mailed_to, log_in, next_code
from live_server import Server
from operator_steps import logged_in_admin
from reporter_pages import csrf_token
from sqlalchemy import func, select, update

from portal import cli, create_app
from portal.models import Budget, RecoveryCode, User
from portal.services import clock, users, work_slots

THROTTLED = "Too many failed attempts for this account"
RECOVERY_HINT = "You can still log in now with your passphrase and one of your recovery codes"


@pytest.fixture
def server(app, database_url, tmp_path):
    """The app under gunicorn (2 processes of 4 threads) on the test's database and instance."""
    # Every parallel log-in within the budget gets a waiting place for the log-in slot (a real node
    # keeps 2 a process: past them a flood is told "busy"); they are checked one at a time.
    node = Server(database_url, app.config["INSTANCE_PATH"], tmp_path / "server.log", workers=2,
                  IDENTITY_WORK_FACTOR=10, LOGIN_PLACES=6, ARGON2_WAIT_SECONDS=60).start()
    yield node
    node.stop()


def invited_and_activated(app, username):
    """A colleague invited by an administrator who activated the account: (TOTP secret, recovery codes)."""
    app.config["IDENTITY_WORK_FACTOR"] = 10
    admin = logged_in_admin(app)
    page = admin.get("/admin/users")
    admin.post("/admin/users", data={"csrf_token": csrf_token(page), "username": username,
                                     "display_name": username.title(), "role": "investigator",
                                     "email": f"{username}@contractor.example"})
    return activate(app, link_mailed_to(app, f"{username}@contractor.example"))


def all_at_once(server, attempts):
    """Send each log-in ``(username, passphrase, code)`` from its own browser, all released together."""
    # Each log-in costs an Argon2id at production parameters: a busy machine is slow.
    browsers = [Browser(follow_redirects=False, timeout=300) for _ in attempts]
    tokens = [browser.get(f"{server.origin}/inbox/login").csrf() for browser in browsers]
    start = threading.Barrier(len(attempts))

    def send(index):
        username, passphrase, code = attempts[index]
        start.wait()
        return browsers[index].post(f"{server.origin}/inbox/login", {
            "csrf_token": tokens[index], "username": username, "passphrase": passphrase, "code": code}).status

    with ThreadPoolExecutor(max_workers=len(attempts)) as pool:
        return list(pool.map(send, range(len(attempts))))


def test_forty_parallel_guesses_are_checked_no_more_than_the_limit_of_five(server):
    code = pyotp.TOTP(totp_secret_of("anna")).now()
    variants = [("anna", "wrong passphrase number %d" % n, code) for n in range(14)]  # the right code
    variants += [("anna", passphrase_of("anna"), "%06d" % n) for n in range(13)]  # the right passphrase
    variants += [(" ANNA ", "wrong again %d" % n, "%06d" % n) for n in range(13)]  # both wrong, name reshaped
    answers = all_at_once(server, variants)
    assert sorted(answers) == [401] * users.LOGIN_ATTEMPTS + [429] * (40 - users.LOGIN_ATTEMPTS), answers


def test_one_authenticator_code_sent_four_times_at_once_opens_one_session(server):
    code = pyotp.TOTP(totp_secret_of("anna")).now()
    answers = all_at_once(server, [("anna", passphrase_of("anna"), code)] * 4)
    assert sorted(answers) == [303] + [401] * 3, answers


def test_one_recovery_code_sent_four_times_at_once_opens_one_session(app, server):
    _, codes = invited_and_activated(app, "dewi")
    answers = all_at_once(server, [("dewi", STRONG, codes[0])] * 4)
    assert sorted(answers) == [303] + [401] * 3, answers
    # The other codes are untouched, and a used one stays used.
    assert all_at_once(server, [("dewi", STRONG, codes[1])]) == [303]
    assert all_at_once(server, [("dewi", STRONG, codes[0])]) == [401]


def test_a_locked_out_owner_still_logs_in_with_their_passphrase_and_a_recovery_code(app):
    secret, codes = invited_and_activated(app, "dewi")
    attacker = app.test_client()
    for guess in range(users.LOGIN_ATTEMPTS):
        assert log_in(attacker, "dewi", passphrase=f"guess {guess}", code="123456").status_code == 401
    owner = app.test_client()
    locked = log_in(owner, "dewi", passphrase=STRONG, code=next_code(secret))
    assert locked.status_code == 429
    page = locked.get_data(as_text=True)
    assert THROTTLED in page and RECOVERY_HINT in page, "the page tells the owner how to get in"
    # Past the limit, neither a wrong passphrase nor a wrong code with a recovery code says anything more.
    assert log_in(attacker, "dewi", passphrase="guess with a code", code=codes[0]).status_code == 429
    assert log_in(attacker, "dewi", passphrase=STRONG, code="AAAA-BBBB-CCCC").status_code == 429
    assert log_in(owner, "dewi", passphrase=STRONG, code=codes[0]).status_code == 303, "the owner is in"
    assert "Log out" in owner.get("/inbox/").get_data(as_text=True)
    # The code is spent, and the others' failures still count: the authenticator waits for the window.
    assert log_in(app.test_client(), "dewi", passphrase=STRONG, code=codes[0]).status_code == 429
    assert log_in(app.test_client(), "dewi", passphrase=STRONG, code=next_code(secret)).status_code == 429
    assert log_in(app.test_client(), "dewi", passphrase=STRONG, code=codes[1]).status_code == 303


def test_only_failures_count_against_the_account(app):
    inbox = app.test_client()
    for guess in range(users.LOGIN_ATTEMPTS - 1):
        assert log_in(inbox, "anna", passphrase=f"guess {guess}", code="123456").status_code == 401
    assert log_in(inbox, "anna").status_code == 303
    assert log_in(app.test_client(), "anna", passphrase="one more guess", code="123456").status_code == 401
    assert log_in(app.test_client(), "anna", passphrase="and another", code="123456").status_code == 429


def change_passphrase(client, current):
    page = client.get("/inbox/account")
    return client.post("/inbox/account", data={"csrf_token": csrf_token(page), "current": current,
                                               "passphrase": STRONG, "confirm": STRONG})


@pytest.mark.parametrize("language", ["en", "vi"])
def test_a_stolen_session_cannot_guess_the_current_passphrase_without_limit(app, language):
    """The refusal is in the account's own language."""
    with app.extensions["portal.sessions"]() as session:
        session.execute(update(User).where(User.username == "anna").values(language=language))
        session.commit()
    thief = app.test_client()
    assert log_in(thief, "anna").status_code == 303
    for guess in range(users.LOGIN_ATTEMPTS):
        assert change_passphrase(thief, f"my guess number {guess}").status_code == 400
    refused = change_passphrase(thief, passphrase_of("anna"))
    assert refused.status_code == 429, "even the right passphrase is not checked past the limit"
    with app.test_request_context(), force_locale(language):
        expected = gettext("Too many failed attempts for this account. Wait %(minutes)s minutes and try again.",
                           minutes=15)
    assert expected in refused.get_data(as_text=True)
    assert log_in(app.test_client(), "anna", code=current_code("anna", 1)).status_code == 303, \
        "the thief's guesses do not lock the owner out of logging in"


MADE_UP = ["nobody", "Nobody2", " spaced out ", "x" * 300, "ünïcödé", "o'brien", "a.b-c_d", "🙂", "admin",
           "root ", "ROOT"] + [f"ghost{n}" for n in range(9)]


def budgets(app):
    with app.extensions["portal.sessions"]() as session:
        return session.scalar(select(func.count()).select_from(Budget))


def test_a_flood_of_made_up_usernames_leaves_no_rows_once_the_window_has_passed(app, monkeypatch):
    flooder = app.test_client()
    for name in MADE_UP:
        assert log_in(flooder, name, passphrase="anything at all", code="123456").status_code == 401
    assert budgets(app) == len({name.strip().lower() for name in MADE_UP})
    real_now = clock.now
    monkeypatch.setattr(clock, "now", lambda: real_now() + users.LOGIN_WINDOW + timedelta(seconds=1))
    assert log_in(flooder, "one more", passphrase="anything at all", code="123456").status_code == 401
    assert budgets(app) == 1, "the next attempt cleared every budget whose window had passed"

    monkeypatch.setattr(clock, "now", lambda: real_now() + 2 * (users.LOGIN_WINDOW + timedelta(seconds=1)))
    ran = CliRunner().invoke(cli.main, ["retention", "run"], env={
        "PORTAL_DATABASE_URL": app.config["DATABASE_URL"], "PORTAL_INSTANCE_PATH": app.config["INSTANCE_PATH"]})
    assert ran.exit_code == 0 and "1 expired attempt budgets" in ran.output, ran.output
    assert budgets(app) == 0, "the daily clean-up clears them even if nobody tries again"


def renew_codes(client, current):
    page = client.get("/inbox/account")
    return client.post("/inbox/account/recovery-codes", data={
        "renew-csrf_token": csrf_token(page), "renew-current": current})


def shown_codes(page):
    return re.findall(r"<code>([A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4})</code>", page.get_data(as_text=True))


def test_an_owner_kept_locked_out_makes_new_recovery_codes_and_the_old_ones_stop_working(app):
    secret, codes = invited_and_activated(app, "dewi")
    for guess in range(users.LOGIN_ATTEMPTS):
        log_in(app.test_client(), "dewi", passphrase=f"guess {guess}", code="123456")
    owner = app.test_client()
    assert log_in(owner, "dewi", passphrase=STRONG, code=codes[0]).status_code == 303

    # A wrong passphrase makes nothing, and is counted like a guess from a stolen session.
    refused = renew_codes(owner, "not my passphrase")
    assert refused.status_code == 400 and not shown_codes(refused)
    renewed = renew_codes(owner, STRONG)
    assert renewed.status_code == 200 and renewed.headers["Cache-Control"] == "no-store"
    new_codes = shown_codes(renewed)
    assert len(new_codes) == users.RECOVERY_CODES and not set(new_codes) & set(codes)
    with app.extensions["portal.sessions"]() as session:
        stored = session.scalars(select(RecoveryCode.code_hash).join(User).where(User.username == "dewi")).all()
    assert len(stored) == users.RECOVERY_CODES
    assert not any(code.replace("-", "") in text or code in text for code in new_codes for text in stored)

    assert log_in(app.test_client(), "dewi", passphrase=STRONG, code=codes[1]).status_code == 429, "old: gone"
    assert log_in(app.test_client(), "dewi", passphrase=STRONG, code=new_codes[0]).status_code == 303
    # Typed as people type them: lower case, no dashes, spaces.
    typed = " " + new_codes[1].replace("-", " ").lower() + " "
    assert log_in(app.test_client(), "dewi", passphrase=STRONG, code=typed).status_code == 303
    assert "New recovery codes made" in logged_in_admin(app, "auditor").get("/admin/audit").get_data(as_text=True)


def test_a_recovery_code_stored_before_codes_were_keyed_still_lets_its_owner_in(app):
    secret, codes = invited_and_activated(app, "dewi")
    old_code = "ABCDEFGHJKMN"
    with app.extensions["portal.sessions"]() as session:
        dewi = session.scalar(select(User).where(User.username == "dewi"))
        # As activation stored every code before: an Argon2id hash of the 12 characters.
        session.add(RecoveryCode(user_id=dewi.id, code_hash=PasswordHasher().hash(old_code)))
        session.commit()
    assert log_in(app.test_client(), "dewi", passphrase=STRONG, code="abcd-efgh-jkmx").status_code == 401
    assert log_in(app.test_client(), "dewi", passphrase=STRONG, code="abcd-efgh-jkmn").status_code == 303
    assert log_in(app.test_client(), "dewi", passphrase=STRONG, code="abcd-efgh-jkmn").status_code == 401, "once"
    assert log_in(app.test_client(), "dewi", passphrase=STRONG, code=codes[2]).status_code == 303


@pytest.fixture
def crowded_login(app_config, investigators, facility_ids):
    """The portal with one log-in slot, two waiting places of its own per process, and no wait."""
    application = create_app(dict(app_config, LOGIN_SLOTS=1, LOGIN_PLACES=2, ARGON2_WAIT_SECONDS=0))
    application.config["TESTING"] = True
    yield application
    application.extensions["portal.engine"].dispose()


def test_a_flood_of_log_ins_is_told_busy_and_counts_against_no_one(crowded_login):
    """While the log-in slot is taken (a flood of guesses), every log-in is answered "busy" at once,
    nothing is checked or counted, and the owner gets in as soon as it is free."""
    inbox = crowded_login.test_client()
    with work_slots.held(work_slots.LOGIN):
        for guess in range(users.LOGIN_ATTEMPTS + 3):
            busy = log_in(inbox, "anna", passphrase=f"guess {guess}", code="123456")
            assert busy.status_code == 503 and busy.headers["Retry-After"] == "60"
            assert "We are busy. Please try again in a minute." in busy.get_data(as_text=True)
        signed_in = crowded_login.test_client()
        assert log_in(signed_in, "anna").status_code == 503
    assert log_in(signed_in, "anna").status_code == 303, "no attempt was counted while busy"
    with work_slots.held(work_slots.LOGIN):
        page = signed_in.get("/inbox/account")
        for guess in range(users.LOGIN_ATTEMPTS + 1):
            answer = signed_in.post("/inbox/account", data={"csrf_token": csrf_token(page), "current": f"guess {guess}",
                                                            "passphrase": STRONG, "confirm": STRONG})
            assert answer.status_code == 503
    assert change_passphrase(signed_in, passphrase_of("anna")).status_code == 200


def test_log_ins_wait_in_places_of_their_own_and_below_the_pages_priority(tmp_path):
    """A flood of log-ins fills its own waiting places, never the reporters': past them a log-in is
    busy though a slot is free, a report's Argon2id still finds a place, and the log-in's Argon2id
    runs at a lower priority than pages."""
    work_slots.configure(tmp_path, {work_slots.LOGIN: work_slots.Pool(3, 0, places=2),
                                    work_slots.ARGON2: work_slots.Pool(3, 0)}, per_process=4)
    taken, release = threading.Barrier(3), threading.Event()

    def hold_a_place():
        with work_slots.held(work_slots.LOGIN):
            taken.wait(30)
            release.wait(30)

    holders = [threading.Thread(target=hold_a_place) for _ in range(2)]
    for holder in holders:
        holder.start()
    try:
        taken.wait(30)
        with pytest.raises(work_slots.Busy):
            with work_slots.held(work_slots.LOGIN):
                pass
        with work_slots.held(work_slots.ARGON2):
            pass
    finally:
        release.set()
        for holder in holders:
            holder.join(30)

    def niceness():
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    assert work_slots.run(work_slots.LOGIN, niceness) >= min(19, niceness() + work_slots.NICENESS)
