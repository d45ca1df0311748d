"""HTTP between portal instances: the only place this server calls out to a partner.

Partners are reached over HTTPS; plain HTTP is accepted only for a loopback
address (tests, or a partner behind a local tunnel such as Tor's).
"""

import ipaddress
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

TIMEOUT_SECONDS = 15
MAX_ANSWER_BYTES = 1024 * 1024
WELL_KNOWN_PATH = "/.well-known/whistleblower-portal.json"


class Unreachable(RuntimeError):
    """The partner did not answer (down, refused, timed out)."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None


def acceptable_base_url(url: str) -> bool:
    parts = urlsplit(url or "")
    if parts.scheme == "https" and parts.hostname:
        return True
    if parts.scheme != "http" or not parts.hostname:
        return False
    if parts.hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False


def _call(request: urllib.request.Request) -> Answer:
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            return Answer(response.status, response.read(MAX_ANSWER_BYTES))
    except urllib.error.HTTPError as error:
        return Answer(error.code, error.read(MAX_ANSWER_BYTES))
    except (urllib.error.URLError, OSError, TimeoutError) as error:
        raise Unreachable(str(getattr(error, "reason", error))[:200]) from None


def get(base_url: str, path: str) -> Answer:
    return _call(urllib.request.Request(base_url.rstrip("/") + path, headers={"Accept": "application/json"}))


def post(base_url: str, path: str, token: str, body: bytes, content_type: str) -> Answer:
    return _call(urllib.request.Request(
        base_url.rstrip("/") + path, data=body, method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": content_type, "Accept": "application/json"}))
