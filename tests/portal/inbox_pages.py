"""Using the secure inbox like an investigator's browser, through the test client."""

from datetime import datetime, timezone

import pyotp
from accounts import passphrase_of, totp_secret_of
from reporter_pages import csrf_token


def current_code(username: str, offset_steps: int = 0) -> str:
    """The code the user's authenticator shows now (or ``offset_steps`` periods later)."""
    return pyotp.TOTP(totp_secret_of(username)).at(datetime.now(timezone.utc), counter_offset=offset_steps)


# Each code is accepted once: successive log-ins of a user in one test take
# the codes of the previous, the current and the next period in turn.
_next_offset = {}


def fresh_code(client, username: str) -> str:
    key = (id(client.application), username)
    offset = _next_offset.get(key, -1)
    assert offset <= 1, "at most three log-ins of one user per test"
    _next_offset[key] = offset + 1
    return current_code(username, offset)


def log_in(client, username, passphrase=None, code=None):
    page = client.get("/inbox/login")
    code = code if code is not None else fresh_code(client, username)
    return client.post("/inbox/login", data={
        "csrf_token": csrf_token(page),
        "username": username,
        "passphrase": passphrase if passphrase is not None else passphrase_of(username),
        "code": code,
    })


def post_on_case(client, case_id, action, **fields):
    """Send one of the case page's forms, with the page's CSRF token."""
    page = client.get(f"/inbox/cases/{case_id}")
    assert page.status_code == 200, page.status_code
    return client.post(f"/inbox/cases/{case_id}/{action}", data={"csrf_token": csrf_token(page), **fields})
