"""Administrators' power, in a real browser: four eyes on a key reset, an account
closed at once, and the audit trail that shows both.

Anna and Binh are logged in at their desks. The administrator resets Anna's
key ("Lost passphrase: new key"): the page says the link went to Anna's
e-mail and shows no link, the only link is in the e-mail queued for Anna, and
Anna's open session is over. The administrator closes Binh's account: Binh's
open session ends at once and Binh cannot log in again. The audit trail page,
filtered by what happened, shows both, with the administrator's name.
"""

import re

import pytest
from accounts import passphrase_of, totp_secret_of
from sqlalchemy import select
from test_inbox_in_browser import log_in, submit

from portal.models import OutboxEmail, User
from portal.services import users

pytestmark = pytest.mark.browser

ACTIVATION_LINK = re.compile(r"/inbox/activate/[A-Za-z0-9_\-]+")


@pytest.fixture
def administrator(session_factory, recovery_identity):
    with session_factory() as session:
        users.create(session, "root", "Rosa Root", "administrator", passphrase_of("root"), work_factor=10,
                     email="root@contractor.example", totp_secret=totp_secret_of("root"))


def logged_in(desk, origin, english, authenticator, username):
    page = desk.new_context().new_page()
    page.goto(f"{origin}/inbox/")
    log_in(page, origin, english, username, authenticator.code(username))
    return page


def test_a_reset_key_goes_to_its_owner_a_closed_account_is_out_at_once_and_the_trail_shows_both(
        live_server, desk, authenticator, english, session_factory, investigators, administrator):
    _ = english
    origin = live_server.origin
    anna = logged_in(desk, origin, english, authenticator, "anna")
    binh = logged_in(desk, origin, english, authenticator, "binh")
    root = logged_in(desk, origin, english, authenticator, "root")

    # Four eyes: the new key's activation link goes to Anna's own e-mail, never to the administrator's screen.
    root.goto(f"{origin}/admin/users")
    row = root.locator("tr", has=root.get_by_role("link", name="anna", exact=True))
    with root.expect_navigation() as answered:
        row.get_by_role("button", name=_("Lost passphrase: new key")).click()
    assert answered.value.status == 200
    notice = root.get_by_role("status").inner_text()
    assert notice == _("A one-time activation link was sent to the e-mail address of %(name)s, and to nobody else. "
                       "It works for 7 days.") % {"name": "Anna"}, notice
    assert not ACTIVATION_LINK.search(root.content()), "the administrator's page shows no activation link"
    with session_factory() as session:
        mailed = session.scalars(select(OutboxEmail).where(OutboxEmail.body.contains("/inbox/activate/"))).all()
    assert [m.to_address for m in mailed] == ["anna@contractor.example"]
    anna.reload()
    assert anna.url.startswith(f"{origin}/inbox/login"), "the reset ended Anna's open session"

    # Closing Binh's account ends Binh's open session at once.
    with session_factory() as session:
        binh_id = session.scalar(select(User.id).where(User.username == "binh"))
    root.goto(f"{origin}/admin/users/{binh_id}")
    root.get_by_label(_("Yes, close this account now")).check()
    submit(root, root.get_by_role("button", name=_("Close the account")))
    assert _("The account is closed: its sessions ended, and routing and hand-over pass it by.") in \
        root.get_by_role("status").inner_text()
    binh.reload()
    assert binh.url.startswith(f"{origin}/inbox/login"), "Binh's session ended with the account"
    binh.get_by_label(_("Username")).fill("binh")
    binh.get_by_label(_("Passphrase")).fill(passphrase_of("binh"))
    binh.get_by_label(_("Code from your authenticator app, or a recovery code")).fill(authenticator.code("binh"))
    binh.get_by_role("button", name=_("Log in")).click()
    assert binh.url.startswith(f"{origin}/inbox/login"), "a closed account cannot log in"

    # The audit trail, read and filtered by what happened.
    root.get_by_role("link", name=_("Audit trail")).first.click()
    assert root.get_by_role("heading", level=1).is_visible()
    for action, label in (("identity_reset", _("Key reset (lost passphrase)")),
                          ("account_deactivated", _("Account closed"))):
        root.get_by_label(_("What")).select_option(action)
        root.get_by_role("button", name=_("Show")).click()
        rows = root.locator("table.cases tbody tr")
        assert rows.count() == 1, f"{action}: {rows.all_inner_texts()}"
        text = rows.first.inner_text()
        assert label in text and "Rosa Root" in text, text
