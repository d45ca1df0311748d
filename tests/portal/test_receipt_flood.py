"""A flood of wrong receipts costs almost nothing and locks nobody out (issue 16, goal 1).

The last four digits of a receipt are a check code keyed by the instance. A
wrong receipt whose check fails is refused before any Argon2id and spends none
of the shared budget, so however many an attacker sends, the worker's own
receipt still opens her case. Receipts issued before check codes keep working.
"""

import random
import re
from collections import Counter

import pytest
from alembic import command
from reporter_pages import (
    csrf_token,
    log_in_with_receipt,
    receipt_on,
    right_looking_receipts,
    send_claim_from_start_page,
    send_report,
)
from sqlalchemy import text

import crypto
from portal import create_app, migrate
from portal.db import make_engine, make_session_factory
from portal.models import Budget
from portal.services import clock, facilities, intake, receipt_attempts, receipts, users
from portal.services import instance as instance_service

BUDGET = 3
# The composing session's token and the form's draft id of a report sent before the upgrade.
OLD_FORM_TOKEN = "c29tZSBjb21wb3Npbmcgc2Vzc2lvbiB0b2tlbg:6FqkY2v0pTq1b6vX9dJ3sWmA7nC4eR8t"
OTHER_SCRIPTS = {"Thai": 0x0E50, "Arabic-Indic": 0x0660, "Devanagari": 0x0966, "Bengali": 0x09E6,
                 "Myanmar": 0x1040, "Khmer": 0x17E0, "fullwidth": 0xFF10}


def in_script(digits: str, zero: int) -> str:
    return "".join(chr(zero + int(d)) for d in digits)


def one_digit_changed(digits: str) -> list[str]:
    return [digits[:i] + str((int(digits[i]) + step) % 10) + digits[i + 1:]
            for i in range(len(digits)) for step in (1, 5, 9)]


def neighbours_swapped(digits: str) -> list[str]:
    return [digits[:i] + digits[i + 1] + digits[i] + digits[i + 2:]
            for i in range(len(digits) - 1) if digits[i] != digits[i + 1]]


def wrong_receipts(real: str, other_instance: str, seed: int = 16) -> list[tuple[str, str]]:
    """``(kind, typed text)``: every kind of wrong receipt an attacker or a tired worker sends."""
    digits = real.replace(" ", "")
    chance = random.Random(seed)
    changed = one_digit_changed(digits)
    wrong = [("random digits", "".join(chance.choice("0123456789") for _ in range(16))) for _ in range(60)]
    wrong += [("one digit changed", typed) for typed in changed]
    wrong += [("neighbours swapped", typed) for typed in neighbours_swapped(digits)]
    wrong += [(f"{script} digits", in_script(chance.choice(changed), zero))
              for script, zero in OTHER_SCRIPTS.items() for _ in range(3)]
    wrong += [("another instance's receipt", other_instance)]
    # A guess that passes the check must be refused too: none of these opens anything.
    assert all(typed.replace(" ", "") != digits for _kind, typed in wrong)
    return wrong


def too_short_or_long(real: str) -> list[str]:
    digits = real.replace(" ", "")
    return [digits[:15], digits[:12], digits + "0", digits[:4], in_script(digits[:15], OTHER_SCRIPTS["Thai"])]


def budget_spent(app, name=receipt_attempts.RECEIPT_BUDGET) -> int:
    with app.extensions["portal.sessions"]() as session:
        budget = session.get(Budget, name)
        return budget.used if budget else 0


@pytest.fixture
def another_instances_receipt(empty_database_url, tmp_path, app_config):
    """A real receipt, from another instance of the portal with its own keys."""
    migrate.upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    with make_session_factory(engine)() as session:
        instance_service.initialise(session, "Another contractor")
        users.create(session, "olga", "Olga", "investigator", "another correct horse battery", work_factor=10,
                     default_recipient=True)
        facility = facilities.add(session, country="TH", name="Other Plant", local_name="Other Plant",
                                  supplier="Other", address="Rayong").id
    engine.dispose()
    (tmp_path / "other").mkdir()
    other = create_app(dict(app_config, DATABASE_URL=empty_database_url, INSTANCE_PATH=str(tmp_path / "other")))
    other.config["TESTING"] = True
    try:
        return receipt_on(send_report(other.test_client(), facility))
    finally:
        other.extensions["portal.engine"].dispose()


def send(client, path, lang="en", **data):
    page = client.get(path.format(lang=lang))
    return client.post(path.format(lang=lang), data={"csrf_token": csrf_token(page), **data})


@pytest.mark.parametrize("issued_by", ["report", "retaliation claim from the start page"])
def test_a_worker_opens_her_case_after_a_flood_of_every_kind_of_wrong_receipt(
        app, client, facility_ids, session_factory, another_instances_receipt, issued_by, monkeypatch):
    app.config["RECEIPT_ATTEMPTS_PER_MINUTE"] = BUDGET
    minute = clock.now()  # the flood within one minute, however slow the machine
    monkeypatch.setattr(clock, "now", lambda: minute)
    with session_factory() as session:
        # Retaliation claims go to a retaliation officer.
        users.create(session, "rosa", "Rosa", "retaliation_officer", "rosa correct horse battery", work_factor=10)
    sent = (send_report(client, facility_ids[0]) if issued_by == "report"
            else send_claim_from_start_page(client, facility_ids[0]))
    receipt = receipt_on(sent)
    attacker = app.test_client()
    wrong = wrong_receipts(receipt, another_instances_receipt)
    assert len(wrong) > 40 * BUDGET
    answers = {}
    for kind, typed in wrong:
        response = log_in_with_receipt(attacker, typed)
        answers.setdefault(kind, set()).add(response.status_code)
    assert answers == {kind: {403} for kind, _typed in wrong}
    for typed in too_short_or_long(receipt):
        response = log_in_with_receipt(attacker, typed)
        assert response.status_code == 400 and "A receipt has 16 digits" in response.get_data(as_text=True)
    # A wrong receipt whose check fails spends none of the shared budget. With 4 check digits, about
    # one guess in 10,000 passes this instance's check by chance (the key is new each run): each such
    # guess, and only it, spends one Argon2id look-up.
    with session_factory() as session:
        key = receipts.check_key(instance_service.load(session).secret_key)
    passing = {receipts.normalise(typed) for _kind, typed in wrong
               if receipts.passes_check(key, receipts.normalise(typed))}
    assert budget_spent(app) == len(passing), "a wrong receipt whose check fails spends none of the shared budget"

    worker = app.test_client()
    opened = log_in_with_receipt(worker, receipt)
    assert opened.status_code == 303 and opened.headers["Location"].endswith("/en/case")
    page = worker.get("/en/case").get_data(as_text=True)
    assert ("We were not paid for overtime in October." if issued_by == "report"
            else "I was moved to night shifts after I reported.") in page


def test_a_refused_receipt_says_only_that_it_is_not_right(app, client, facility_ids, session_factory):
    """A guess whose check fails and one whose check passes but opens nothing get the same page."""
    receipt = receipt_on(send_report(client, facility_ids[0]))
    failing_check = one_digit_changed(receipt.replace(" ", ""))[0]
    passing_check = right_looking_receipts(session_factory, 1)[0]
    pages = []
    for typed in (failing_check, passing_check):
        response = log_in_with_receipt(app.test_client(), typed)
        assert response.status_code == 403
        body = response.get_data(as_text=True)
        assert "This receipt is not right. Please check each digit and try again." in body
        # The page gives back what was typed, so the worker can correct it; the rest is the same.
        assert f'value="{typed}"' in body
        pages.append(re.sub(r'name="csrf_token" type="hidden" value="[^"]+"', "", body).replace(typed, ""))
    assert pages[0] == pages[1]
    assert budget_spent(app) == 1, "only the guess that passed the check cost a look-up"


def test_a_typo_is_told_in_the_workers_language(app, client, facility_ids, compiled_catalogs):
    from test_consent import gettext_for

    receipt = receipt_on(send_report(client, facility_ids[0], lang="vi"))
    digits = receipt.replace(" ", "")
    for typo in (one_digit_changed(digits)[7], neighbours_swapped(digits)[3]):
        response = log_in_with_receipt(app.test_client(), typo, lang="vi")
        assert response.status_code == 403
        page = response.get_data(as_text=True)
        _ = gettext_for(compiled_catalogs, "vi")
        assert _("Come back to your report") != "Come back to your report", "the page is in Vietnamese"
        assert _("Come back to your report") in page
        assert _("This receipt is not right. Please check each digit and try again.") in page
    assert log_in_with_receipt(app.test_client(), receipt, lang="vi").status_code == 303


def test_right_looking_guesses_are_held_back_by_one_budget_and_each_is_looked_up_once(
        app, client, facility_ids, session_factory):
    """A guess that passes the check costs an Argon2id: those share one budget. The same one sent
    again is refused from memory, so a guesser who found one by timing cannot spend the budget with it."""
    app.config["RECEIPT_ATTEMPTS_PER_MINUTE"] = BUDGET
    receipt = receipt_on(send_report(client, facility_ids[0]))
    found = right_looking_receipts(session_factory, 1)[0]
    statuses = [log_in_with_receipt(app.test_client(), found).status_code for _ in range(10 * BUDGET)]
    assert statuses == [403] * (10 * BUDGET)
    assert budget_spent(app) == 1
    assert log_in_with_receipt(app.test_client(), receipt).status_code == 303

    others = right_looking_receipts(session_factory, 3, start=1)
    statuses = [log_in_with_receipt(app.test_client(), guess).status_code for guess in others]
    assert statuses == [403, 403, 429], "the budget of 3: the found guess and two more (the worker's was given back)"
    held_back = log_in_with_receipt(app.test_client(), others[-1])
    assert held_back.headers["Retry-After"] == "60"
    assert "Too many people are trying receipts right now." in held_back.get_data(as_text=True)


def test_a_receipt_that_opens_its_case_again_and_again_spends_none_of_the_budget_others_need(
        app, client, facility_ids):
    """Anyone can hold a real receipt: send a report, note it. Sent again and again, it opens its
    case a few times, then is held back on its own, and the worker still opens hers."""
    app.config["RECEIPT_ATTEMPTS_PER_MINUTE"] = BUDGET
    attackers = receipt_on(send_report(app.test_client(), facility_ids[0], description="Nothing happened."))
    receipt = receipt_on(send_report(client, facility_ids[0]))
    sent = receipt_attempts.OPENINGS_PER_MINUTE + 10
    statuses = [log_in_with_receipt(app.test_client(), attackers).status_code for _ in range(sent)]
    opens = receipt_attempts.OPENINGS_PER_MINUTE
    assert opens > BUDGET
    assert statuses == [303] * opens + [429] * (sent - opens)
    assert budget_spent(app) == 0, "a receipt that opened its case gave its look-up back"
    worker = app.test_client()
    assert log_in_with_receipt(worker, receipt).status_code == 303
    assert "We were not paid for overtime in October." in worker.get("/en/case").get_data(as_text=True)


def store_a_report_as_before_check_codes(database_url, facility_id, config) -> str:
    """A report stored by the portal as it was before this upgrade; its 16-digit receipt has no check code."""
    engine = make_engine(database_url)
    with make_session_factory(engine)() as session:
        # The schema of before check codes: the row as it was then, not today's model of it.
        instance = session.execute(text(
            "SELECT secret_key, receipt_salt, post_quantum, recovery_recipient FROM instance")).one()
        receipt = receipts.legacy_receipt_for_submission(instance.secret_key, OLD_FORM_TOKEN)
        # One old receipt in 10,000 happens to pass the new check: this one must take the old way.
        assert not receipts.passes_check(receipts.check_key(instance.secret_key), receipt)
        keys = receipts.derive_keys(receipt, instance.receipt_salt, config["RECEIPT_ARGON2_TIME_COST"],
                                    config["RECEIPT_ARGON2_MEMORY_KIB"], instance.post_quantum)
        body = b'{"language": "en", "categories": ["wages"], "description": "Written before the upgrade."}'
        blob = crypto.encrypt(body, [instance.recovery_recipient, keys.identity.recipient])
        session.execute(text(
            "INSERT INTO cases (id, kind, received_on, status, facility_id, language, urgent, acknowledge_due, "
            "feedback_due, receipt_lookup, submission_digest, reporter_recipient, recipient_choice, "
            "mandatory_notification, last_reporter_item_id) VALUES (41, 'report', '2026-01-05', 'received', "
            ":facility, 'en', false, '2026-01-12', '2026-04-05', :lookup, :digest, :recipient, 'contractor', "
            "false, 1)"),
            {"facility": facility_id, "lookup": keys.lookup, "digest": receipts.submission_digest(OLD_FORM_TOKEN),
             "recipient": str(keys.identity.recipient)})
        session.execute(text(
            "INSERT INTO case_items (case_id, kind, author, created_on, size, read_by_reporter, blob) "
            "VALUES (41, 'report', 'reporter', '2026-01-05', :size, false, :blob)"), {"size": len(body), "blob": blob})
        session.commit()
    engine.dispose()
    return receipts.group(receipt)


@pytest.fixture
def upgraded_instance(empty_database_url, tmp_path, app_config):
    """An instance that took reports before receipts had check codes, upgraded: (app, the old receipt).

    Its instance, user and workplace are made by today's code (which writes today's columns), then
    the schema goes back to before check codes, the old report is stored, and the upgrade runs."""
    migrate.upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    with make_session_factory(engine)() as session:
        instance_service.initialise(session, "Upgraded contractor")
        users.create(session, "anna", "Anna", "investigator", "anna correct horse battery", work_factor=10,
                     default_recipient=True)
        facility = facilities.add(session, country="VN", name="Plant", local_name="Plant", supplier="S",
                                  address="Bac Ninh").id
    engine.dispose()
    command.downgrade(migrate.alembic_config(empty_database_url), "0014")
    old_receipt = store_a_report_as_before_check_codes(empty_database_url, facility, app_config)
    migrate.upgrade(empty_database_url)
    (tmp_path / "upgraded").mkdir()
    app = create_app(dict(app_config, DATABASE_URL=empty_database_url, INSTANCE_PATH=str(tmp_path / "upgraded")))
    app.config["TESTING"] = True
    yield app, old_receipt, facility
    app.extensions["portal.engine"].dispose()


def test_a_receipt_issued_before_check_codes_still_opens_its_case_after_the_upgrade(upgraded_instance):
    app, old_receipt, facility = upgraded_instance
    worker = app.test_client()
    opened = log_in_with_receipt(worker, old_receipt)
    assert opened.status_code == 303
    assert "Written before the upgrade." in worker.get("/en/case").get_data(as_text=True)
    assert budget_spent(app, receipt_attempts.LEGACY_RECEIPT_BUDGET) == 1
    assert budget_spent(app) == 0

    new_receipt = receipt_on(send_report(app.test_client(), facility))
    assert log_in_with_receipt(app.test_client(), new_receipt).status_code == 303
    assert budget_spent(app, receipt_attempts.LEGACY_RECEIPT_BUDGET) == 1, \
        "a new receipt passes the check and takes the main way, not the old one"
    assert budget_spent(app) == 0, "a receipt that opened its case gave its look-up back"


def test_a_flood_while_old_receipts_remain_can_delay_only_their_holders(upgraded_instance, monkeypatch):
    """Wrong receipts are tried the old way while old cases remain, under their own budget, one at a
    time through the minute: a flood spends that budget and no more, and a receipt with a check code
    opens its case all along."""
    app, old_receipt, facility = upgraded_instance
    app.config["LEGACY_RECEIPT_ATTEMPTS_PER_MINUTE"] = 1
    app.config["RECEIPT_ATTEMPTS_PER_MINUTE"] = BUDGET
    new_receipt = receipt_on(send_report(app.test_client(), facility))
    # The whole flood within one minute, however slow the machine: a minute that turns gives the
    # budget back, and the flood's second look-up would be a fair one.
    minute = clock.now()
    monkeypatch.setattr(clock, "now", lambda: minute)
    attacker = app.test_client()
    wrong = wrong_receipts(new_receipt, receipts.group("1" * 16))
    statuses = [log_in_with_receipt(attacker, typed).status_code for _kind, typed in wrong]
    # Within a minute (a budget of 1 a minute): one look-up the old way, then none.
    assert statuses[0] == 403 and set(statuses[1:]) == {429}, Counter(statuses)
    assert budget_spent(app, receipt_attempts.LEGACY_RECEIPT_BUDGET) == 1
    assert budget_spent(app) == 0
    assert log_in_with_receipt(app.test_client(), new_receipt).status_code == 303
    # The old receipt waits for the next minute, like every wrong receipt now.
    assert log_in_with_receipt(app.test_client(), old_receipt).status_code == 429


def test_once_no_old_case_remains_wrong_receipts_are_refused_without_any_look_up(upgraded_instance):
    app, old_receipt, _facility = upgraded_instance
    app.config["LEGACY_RECEIPT_ATTEMPTS_PER_MINUTE"] = BUDGET
    with app.extensions["portal.sessions"]() as session:
        session.execute(text("DELETE FROM case_items WHERE case_id = 41"))
        session.execute(text("DELETE FROM cases WHERE id = 41"))
        session.commit()
    statuses = [log_in_with_receipt(app.test_client(), old_receipt).status_code for _ in range(3 * BUDGET)]
    assert statuses == [403] * (3 * BUDGET)
    assert budget_spent(app, receipt_attempts.LEGACY_RECEIPT_BUDGET) == 0


def test_an_operator_can_close_the_old_way_at_once(upgraded_instance):
    app, old_receipt, _facility = upgraded_instance
    app.config["LEGACY_RECEIPT_ATTEMPTS_PER_MINUTE"] = 0
    assert log_in_with_receipt(app.test_client(), old_receipt).status_code == 403
    assert budget_spent(app, receipt_attempts.LEGACY_RECEIPT_BUDGET) == 0
    app.config["LEGACY_RECEIPT_ATTEMPTS_PER_MINUTE"] = BUDGET
    assert log_in_with_receipt(app.test_client(), old_receipt).status_code == 303


def test_a_form_sent_before_the_upgrade_and_again_after_gets_its_old_receipt_back(upgraded_instance):
    """The session that sent a form gets its receipt back when it sends it again: across the upgrade,
    the receipt it was given then, never a new one that opens nothing."""
    app, old_receipt, _facility = upgraded_instance
    with app.extensions["portal.sessions"]() as session:
        again = intake.find_submission(session, app.config, OLD_FORM_TOKEN)
    assert again.already_received and receipts.group(again.receipt) == old_receipt
