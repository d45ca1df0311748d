"""Each process keeps whom routing chooses among until someone changes it
(services/routing_cache.py): a report never goes to someone an administrator took
off, and always to someone they added, on every node, whichever way the change was
written. Two apps on one database stand for two nodes; both have routed a report
before each change, so both hold views the change makes old."""

import pytest
from accounts import passphrase_of
from reporter_pages import csrf_token, draft_id, report_fields, send_report
from sqlalchemy import delete, func, insert, select, update

from portal import create_app
from portal.models import Facility, Keyholder, User
from portal.models.routing import rule_recipients
from portal.services import intake, routing, users


@pytest.fixture
def nodes(app, app_config):
    other = create_app(app_config)
    other.config["TESTING"] = True
    yield [app.test_client(), other.test_client()]
    other.extensions["portal.engine"].dispose()


def readers_of_the_next_report(session_factory, client, facility, **fields) -> set[str]:
    response = send_report(client, facility, **fields)
    assert response.status_code == 200 and b'class="receipt"' in response.data, response.status_code
    with session_factory() as session:
        case_id = session.scalar(select(func.max(Keyholder.case_id)))
        return set(session.scalars(select(User.username).join(Keyholder, Keyholder.user_id == User.id)
                                   .where(Keyholder.case_id == case_id)))


def on_every_node(session_factory, nodes, facility, **fields) -> list[set[str]]:
    return [readers_of_the_next_report(session_factory, client, facility, **fields) for client in nodes]


def test_reports_follow_every_change_on_every_node(session_factory, nodes, investigators, colleague, facility_ids):
    facility = facility_ids[0]
    with session_factory() as session:
        admin = users.create(session, "dara", "Dara", "administrator", passphrase_of("dara"), work_factor=10)
        anna, binh, chandra = (session.scalar(select(User).where(User.username == name))
                               for name in ("anna", "binh", "chandra"))
        anna_id, binh_id, chandra_id = anna.id, binh.id, chandra.id
    assert on_every_node(session_factory, nodes, facility) == [{"anna", "binh"}] * 2

    # Through the ORM: Binh no longer receives new cases.
    with session_factory() as session:
        session.get(User, binh_id).default_recipient = False
        session.commit()
    assert on_every_node(session_factory, nodes, facility) == [{"anna"}] * 2

    # Through a statement: she does again.
    with session_factory() as session:
        session.execute(update(User).where(User.id == binh_id).values(default_recipient=True))
        session.commit()
    assert on_every_node(session_factory, nodes, facility) == [{"anna", "binh"}] * 2

    # An administrator deactivates Anna (the service the admin pages use).
    with session_factory() as session:
        users.deactivate(session, session.get(User, admin.id), session.get(User, anna_id))
    assert on_every_node(session_factory, nodes, facility) == [{"binh"}] * 2

    # A rule sends wages to Chandra; then its recipients change by a statement on the link table.
    with session_factory() as session:
        rule = routing.save_rule(session, session.get(User, admin.id), name="wages", category="wages",
                                 recipient_ids=[chandra_id])
        rule_id = rule.id
    assert on_every_node(session_factory, nodes, facility) == [{"chandra"}] * 2
    with session_factory() as session:
        session.execute(delete(rule_recipients).where(rule_recipients.c.rule_id == rule_id))
        session.execute(insert(rule_recipients).values(rule_id=rule_id, user_id=binh_id))
        session.commit()
    assert on_every_node(session_factory, nodes, facility) == [{"binh"}] * 2

    # The rule goes: new cases go to those who receive them.
    with session_factory() as session:
        routing.delete_rule(session, session.get(User, admin.id), rule_id)
    assert on_every_node(session_factory, nodes, facility) == [{"binh"}] * 2
    with session_factory() as session:
        session.get(User, chandra_id).default_recipient = True
        session.commit()
    assert on_every_node(session_factory, nodes, facility) == [{"binh", "chandra"}] * 2

    # The administrators stop offering the contractor's investigators: such a report is refused.
    with session_factory() as session:
        intake.save_offer(session, session.get(User, admin.id), ["monitor", "both"], [])
    for client in nodes:
        assert b'class="receipt"' not in send_report(client, facility).data
    with session_factory() as session:
        intake.save_offer(session, session.get(User, admin.id), list(routing.CHOICES), [])
    assert on_every_node(session_factory, nodes, facility) == [{"binh", "chandra"}] * 2

    # A conflict of interest declared for Binh at this workplace, then lifted.
    with session_factory() as session:
        exclusion = routing.add_exclusion(session, binh_id, facility_id=facility)
        exclusion_id = exclusion.id
    assert on_every_node(session_factory, nodes, facility) == [{"chandra"}] * 2
    with session_factory() as session:
        routing.remove_exclusion(session, exclusion_id, actor=session.get(User, admin.id))
    assert on_every_node(session_factory, nodes, facility) == [{"binh", "chandra"}] * 2

    # The workplace leaves the registry: a report naming it is refused everywhere, nothing stored.
    with session_factory() as session:
        cases_before = session.scalar(select(func.count(func.distinct(Keyholder.case_id))))
        session.get(Facility, facility).active = False
        session.commit()
    for client in nodes:
        response = send_report(client, facility)
        assert b'class="receipt"' not in response.data
    with session_factory() as session:
        assert session.scalar(select(func.count(func.distinct(Keyholder.case_id)))) == cases_before


def test_a_change_made_while_a_report_is_being_sent_is_followed_by_every_later_report(
        session_factory, app, investigators, facility_ids, monkeypatch):
    """The report's own request read the users for its form (the form's choices a few seconds
    old are read again) before the administrator's change; its views are not kept as current."""
    from portal.web.common import evidence as form_evidence
    from portal.web.reporter import pages

    facility = facility_ids[0]
    with session_factory() as session:
        admin_id = users.create(session, "dara", "Dara", "administrator", passphrase_of("dara"), work_factor=10).id
        anna_id = session.scalar(select(User.id).where(User.username == "anna"))
    client = app.test_client()
    monkeypatch.setattr(pages, "CHOICES_TTL_SECONDS", -1)
    gather, changed = form_evidence.gather, []

    def gather_while_anna_is_deactivated(*args, **kwargs):
        chosen = gather(*args, **kwargs)
        if not changed:
            # While the worker's files are cleaned, an administrator deactivates Anna.
            with session_factory() as session:
                users.deactivate(session, session.get(User, admin_id), session.get(User, anna_id))
            changed.append(True)
        return chosen

    monkeypatch.setattr(form_evidence, "gather", gather_while_anna_is_deactivated)
    readers_of_the_next_report(session_factory, client, facility)  # sent as she was deactivated: either way
    assert changed
    assert readers_of_the_next_report(session_factory, client, facility) == {"binh"}
    assert readers_of_the_next_report(session_factory, client, facility) == {"binh"}


def test_choices_taken_off_while_a_report_is_being_sent_refuse_every_later_report(
        session_factory, app, investigators, facility_ids, monkeypatch):
    """The report's request read the instance's settings for its form's choices (theirs were a few
    seconds old) just before the administrators stopped offering the contractor's investigators:
    intake checks the choice fresh all the same, for that report's followers as for any."""
    from types import SimpleNamespace

    from portal.web.common import evidence as form_evidence
    from portal.web.reporter import pages

    facility = facility_ids[0]
    with session_factory() as session:
        admin_id = users.create(session, "dara", "Dara", "administrator", passphrase_of("dara"), work_factor=10).id
    now = [0.0]
    monkeypatch.setattr(pages, "time", SimpleNamespace(monotonic=lambda: now[0]))
    client = app.test_client()
    gather, changed = form_evidence.gather, []

    def gather_while_the_offer_changes(*args, **kwargs):
        chosen = gather(*args, **kwargs)
        if not changed:
            with session_factory() as session:
                intake.save_offer(session, session.get(User, admin_id), ["monitor", "both"], [])
            changed.append(True)
        return chosen

    monkeypatch.setattr(form_evidence, "gather", gather_while_the_offer_changes)
    form = client.get("/en/report")
    now[0] = 60.0  # the form's choices are read again as it is sent
    data = dict(report_fields(facility), csrf_token=csrf_token(form), submission=draft_id(form))
    client.post("/en/report", data=data, content_type="multipart/form-data")  # sent as it changed: either way
    assert changed
    with session_factory() as session:
        cases_before = session.scalar(select(func.count(func.distinct(Keyholder.case_id))))
    # The blank form's choices are those read a moment before the change; intake's are not.
    response = send_report(client, facility)
    assert b'class="receipt"' not in response.data
    with session_factory() as session:
        assert session.scalar(select(func.count(func.distinct(Keyholder.case_id)))) == cases_before
