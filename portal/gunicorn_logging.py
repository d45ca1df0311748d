"""gunicorn's error log without client addresses.

gunicorn names the peer in some error lines ("Invalid request from ip=...",
"Error handling request ..."). A reporter's address must never be written
anywhere, so every error-log line is scrubbed of IPv4 and IPv6 addresses
before it is written. The access log is off altogether (deploy/gunicorn.conf.py).
"""

import re

from gunicorn.glogging import Logger

_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?(?![\w.])")
_IPV6 = re.compile(
    r"(?<![\w:])\[?(?:(?:[0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}"  # IPv6, full
    r"|(?:[0-9a-fA-F]{1,4}:)*[0-9a-fA-F]{0,4}::(?:[0-9a-fA-F]{1,4}:)*[0-9a-fA-F]{0,4})\]?(?::\d+)?(?![\w:])"  # or with ::
)
# The portal's own listening address may be logged ("Listening at: ..."): it is no one's.
_KEEP = re.compile(r"Listening at: |Booting worker|Starting gunicorn")


def scrub(message: str) -> str:
    if _KEEP.search(message):
        return message
    # IPv4 first, so that an IPv4-mapped IPv6 address (::ffff:203.0.113.7) loses both parts.
    return _IPV6.sub("[address removed]", _IPV4.sub("[address removed]", message))


def _scrubbing(method):
    def scrubbed(self, msg, *args, **kwargs):
        return method(self, scrub(str(msg) % args if args else str(msg)), **kwargs)
    return scrubbed


class AddressFreeLogger(Logger):
    def log(self, lvl, msg, *args, **kwargs):
        super().log(lvl, scrub(str(msg) % args if args else str(msg)), **kwargs)

    def access(self, resp, req, environ, request_time):
        """Never: an access line ties an address and a time to a page."""


for _level in ("critical", "error", "warning", "info", "debug", "exception"):
    setattr(AddressFreeLogger, _level, _scrubbing(getattr(Logger, _level)))
