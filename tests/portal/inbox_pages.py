"""Using the secure inbox like an investigator's browser, through the test client."""

import re
import time
from datetime import datetime, timezone

import pyotp
from accounts import passphrase_of, totp_secret_of
from reporter_pages import csrf_token
from sqlalchemy import select

from portal.models import OutboxEmail


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


STRONG = "lantern orbit pickle magnolia"


def next_code(secret):
    """The authenticator's next code: the current one was spent confirming it."""
    return pyotp.TOTP(secret).at(datetime.now(timezone.utc), counter_offset=1)


def link_mailed_to(app, address):
    """The activation link in the newest e-mail queued for ``address``: the only place it goes."""
    with app.extensions["portal.sessions"]() as session:
        body = session.scalars(select(OutboxEmail.body).where(OutboxEmail.to_address == address)
                               .order_by(OutboxEmail.id.desc())).first()
    return re.search(r"https?://\S+/inbox/activate/[A-Za-z0-9_\-]+", body).group(0)


def activate(app, link, passphrase=STRONG):
    """Follow an activation link: passphrase, authenticator, recovery codes."""
    client = app.test_client()
    path = link[link.index("/inbox/"):]
    page = client.get(path)
    assert page.status_code == 200
    weak = client.post(path, data={"csrf_token": csrf_token(page), "passphrase": "password123",
                                   "confirm": "password123"})
    assert weak.status_code == 400
    step = client.post(path, data={"csrf_token": csrf_token(weak), "passphrase": passphrase,
                                   "confirm": passphrase})
    assert step.status_code == 303
    enrol = client.get(step.headers["Location"])
    secret = re.search(r'class="secret">([A-Z2-7]+)<', enrol.get_data(as_text=True)).group(1)
    assert 'src="data:image/svg+xml;base64,' in enrol.get_data(as_text=True)
    wrong = client.post(step.headers["Location"], data={"csrf_token": csrf_token(enrol), "code": "000000"})
    assert wrong.status_code == 400
    done = client.post(step.headers["Location"], data={"csrf_token": csrf_token(enrol),
                                                       "code": pyotp.TOTP(secret).now()})
    assert done.status_code == 200
    codes = re.findall(r"<code>([A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4})</code>", done.get_data(as_text=True))
    assert len(codes) == 10
    return secret, codes
