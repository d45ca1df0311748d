"""Settings from ``PORTAL_*`` environment variables, with safe defaults.

Only settings that are safe to have in the environment live here. Secrets
that every app node must share (the session signing key, the receipt salt)
are created by ``portal init`` and kept in the database.
"""

import os
from pathlib import Path

DEFAULTS = {
    "INSTANCE_PATH": "instance",
    "DATABASE_URL": None,  # default: SQLite in the instance folder
    "ENV": "production",
    # The name `portal init` stores when given no --organisation; pages show the stored one.
    "ORGANISATION_NAME": "Whistle-blower portal",
    # Every language whose catalog is complete (none reviewed by a native speaker yet:
    # translations/README.md), in the picker's order.
    "LANGUAGES": "en,zh_Hans,zh_Hant,vi,th,ms,id,fil,my,km,ne,bn,hi,ta,ur,ko,es,cs,nl,fr",
    "DEFAULT_LANGUAGE": "en",
    "QUICK_EXIT_URL": "https://www.wikipedia.org/",
    "ACK_DAYS": 7,
    "FEEDBACK_MONTHS": 3,
    # Days before an acknowledgement or feedback is due that its lead is reminded (portal reminders queue).
    "REMIND_DAYS_BEFORE": 2,
    "MAX_ATTACHMENT_BYTES": 15 * 1024 * 1024,
    "MAX_ATTACHMENTS": 5,
    "MAX_TEXT_CHARS": 20000,
    # Evidence files cleaned at once by the whole server (every gunicorn worker), each in a
    # confined process of at most 496 MiB; a file waits this many seconds for a free slot.
    "CLEANING_SLOTS": 2,
    "CLEANING_WAIT_SECONDS": 10,
    # Receipt Argon2ids computed at once by the whole node (every gunicorn worker), at a lower
    # priority; 0: one fewer than the node's cores (at least one), so pages always have a core.
    # A report, a claim or a follow-up open waits this many seconds for a slot, then the worker
    # is asked to try again in a minute with everything they wrote kept.
    "ARGON2_SLOTS": 0,
    "ARGON2_WAIT_SECONDS": 10,
    # gunicorn's threads per worker (deploy/gunicorn.conf.py reads the same PORTAL_THREADS): all
    # but one may wait for an Argon2id or cleaning slot, the last one is kept for pages.
    "THREADS": 10,
    # Staff log-ins checked at once by a node (their Argon2id, at a lower priority), and how many
    # of a worker process's waiting places are theirs alone: a flood of log-ins gets "busy" and
    # neither slows the reporters' pages nor takes their places.
    "LOGIN_SLOTS": 1,
    "LOGIN_PLACES": 2,
    # Evidence files all anonymous reporters together may upload in one day (UTC), in MB; the
    # excess is refused file by file, the report still goes (0: no limit).
    "UPLOAD_MB_PER_DAY": 4096,
    "REPORTER_SESSION_MINUTES": 20,
    # Look-ups (each an Argon2id) of receipts whose check code is right, for the whole instance.
    "RECEIPT_ATTEMPTS_PER_MINUTE": 120,
    # Look-ups of receipts whose check fails, while cases with receipts issued before check codes
    # remain, one at a time evenly through the minute, at most one a second (0: such receipts no
    # longer open their cases).
    "LEGACY_RECEIPT_ATTEMPTS_PER_MINUTE": 30,
    # Argon2id cost of a receipt look-up: about a quarter second on one core.
    "RECEIPT_ARGON2_TIME_COST": 3,
    "RECEIPT_ARGON2_MEMORY_KIB": 65536,
    "LOG_LEVEL": "INFO",
    "USER_SESSION_MINUTES": 30,
    "USER_SESSION_HOURS": 12,
    # Where links in notification e-mails point.
    "BASE_URL": "http://127.0.0.1:5000",
    # The portal's Tor onion address (http://....onion), if deploy/tor runs one: printed on the
    # receipt slip a worker gets when staff enter a report for them. Empty: none is printed.
    "ONION_URL": "",
    "SMTP_HOST": "localhost",
    "SMTP_PORT": 25,
    "SMTP_FROM": "portal@localhost",
    "SMTP_STARTTLS": 0,
    "SMTP_USER": "",
    "SMTP_PASSWORD": "",
    # Optional: the receipt-guessing budget in Redis instead of the database (e.g. redis://redis:6379/0).
    "REDIS_URL": "",
    # Days a closed case is kept before it is deleted with all its items (0: kept for ever).
    "RETENTION_DAYS": 730,
    # scrypt work factor sealing a user's identity to their passphrase.
    "IDENTITY_WORK_FACTOR": 18,
    # Tests and development only (refused unless PORTAL_ENV=development): accept partner portals on
    # this machine's loopback addresses, over plain http:// too. Partners are otherwise https://
    # at public addresses only (services/partner_http.py).
    "ALLOW_LOOPBACK_PARTNERS": 0,
    # A public transparency page (/transparency, no log-in): yearly figures only, small counts
    # withheld. Off unless the organisation decides to publish.
    "PUBLIC_STATISTICS": False,
}

_BOOLEAN_KEYS = {key for key, value in DEFAULTS.items() if isinstance(value, bool)}
_INTEGER_KEYS = {key for key, value in DEFAULTS.items() if isinstance(value, int)} - _BOOLEAN_KEYS
_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off", "")


def load(overrides=None, environ=None) -> dict:
    """Return the configuration: defaults, then ``PORTAL_*`` variables, then overrides."""
    environ = os.environ if environ is None else environ
    config = dict(DEFAULTS)
    for key in DEFAULTS:
        value = environ.get(f"PORTAL_{key}")
        if value is not None:
            config[key] = value
    config.update(overrides or {})
    for key in _INTEGER_KEYS:
        try:
            config[key] = int(config[key])
        except (TypeError, ValueError):
            raise ValueError(f"PORTAL_{key} must be a whole number") from None
    for key in _BOOLEAN_KEYS:
        config[key] = _boolean(key, config[key])
    config["INSTANCE_PATH"] = str(Path(config["INSTANCE_PATH"]).resolve())
    if not config["DATABASE_URL"]:
        config["DATABASE_URL"] = "sqlite:///" + str(Path(config["INSTANCE_PATH"]) / "portal.db")
    if isinstance(config["LANGUAGES"], str):
        config["LANGUAGES"] = [code.strip() for code in config["LANGUAGES"].split(",") if code.strip()]
    if config["DEFAULT_LANGUAGE"] not in config["LANGUAGES"]:
        raise ValueError("PORTAL_DEFAULT_LANGUAGE must be one of PORTAL_LANGUAGES")
    config["DEVELOPMENT"] = config["ENV"] == "development"
    if config["ALLOW_LOOPBACK_PARTNERS"] and not config["DEVELOPMENT"]:
        raise ValueError("PORTAL_ALLOW_LOOPBACK_PARTNERS is for tests and development only: "
                         "it is refused unless PORTAL_ENV=development")
    return config


def _boolean(key: str, value) -> bool:
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in _TRUE or word in _FALSE:
        return word in _TRUE
    raise ValueError(f"PORTAL_{key} must be true or false")
