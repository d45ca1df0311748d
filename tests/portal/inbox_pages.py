"""Using the secure inbox like an investigator's browser, through the test client."""

import time
from datetime import datetime, timezone

import pyotp
from accounts import passphrase_of, totp_secret_of
from reporter_pages import csrf_token


def current_code(username: str, offset_steps: int = 0) -> str:
    """The code the user's authenticator shows now (or ``offset_steps`` periods later)."""
    return pyotp.TOTP(totp_secret_of(username)).at(datetime.now(timezone.utc), counter_offset=offset_steps)


# Each code is accepted once: successive log-ins of a user in one test take the
# code of the current period, then of the next one. The current period's code
# stays valid if the period ends on the way to the server (one step of slack).
_last_step = {}


def fresh_code(client, username: str) -> str:
    key = (id(client.application), username)
    now_step = int(time.time()) // 30
    step = max(_last_step.get(key, now_step - 1) + 1, now_step)
    assert step <= now_step + 1, "at most two log-ins of one user per 30 seconds"
    _last_step[key] = step
    return pyotp.TOTP(totp_secret_of(username)).generate_otp(step)


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
