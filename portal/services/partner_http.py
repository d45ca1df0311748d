"""HTTP between portal instances: the only place this server calls out to a partner.

A partner's address is typed by an administrator and what it resolves to is
told by DNS, which anyone controlling the partner's name controls: both could
point this server at itself, at its private network or at a cloud's metadata
service. So partners are reached over HTTPS at public addresses only:

- the address is checked when it is saved (``acceptable_base_url``): https, a
  host name or a public address, nothing that names a local host;
- at every connection the name is resolved, every address it resolves to is
  checked (``public_address``), and the connection goes to a checked address,
  with the name kept for TLS (SNI, certificate) and the Host header: a name
  that resolves to a public address when saved and a private one later is
  refused then;
- a redirect is never followed (it would carry the bearer token elsewhere);
- every failure is one ``Unreachable``, whose reason goes to the operator's log
  only: what staff see and what this server stores cannot tell a closed port
  from a timeout, so a partner address cannot be used to scan other hosts.

``configure(allow_loopback=True)`` (``PORTAL_ALLOW_LOOPBACK_PARTNERS``, for tests
and development only, refused in production by ``config.load``) also accepts
partners on this machine's loopback addresses, over plain HTTP as well.
"""

import http.client
import ipaddress
import json
import logging
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

TIMEOUT_SECONDS = 15
# A whole call, from the first connection to the last byte of the answer: TIMEOUT_SECONDS bounds
# each wait for the network only, and a partner sending a byte now and then would hold the call
# (and the reporter's request that delivers to it) for as long as it liked.
CALL_SECONDS = 30
MAX_ANSWER_BYTES = 1024 * 1024
WELL_KNOWN_PATH = "/.well-known/whistleblower-portal.json"

log = logging.getLogger(__name__)
_settings = {"allow_loopback": False}

# Ranges no partner is ever at, besides what ``ipaddress`` calls private, reserved and so on:
# carrier-grade NAT, benchmarking, IETF protocol and documentation ranges, the local NAT64
# prefix, and the deprecated IPv4-compatible and site-local IPv6 forms.
NEVER = [ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "198.18.0.0/15", "240.0.0.0/4",
    "::/96", "100::/64", "2001::/23", "2001:db8::/32", "64:ff9b:1::/48", "fec0::/10", "fc00::/7")]
NAT64 = ipaddress.ip_network("64:ff9b::/96")


class Unreachable(RuntimeError):
    """The partner could not be reached. ``reason`` is for the operator's log, never for a page."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None


def configure(allow_loopback: bool) -> None:
    """Whether partners on this machine's loopback addresses are accepted (tests and development)."""
    _settings["allow_loopback"] = bool(allow_loopback)


def public_address(address: str) -> bool:
    """Whether ``address`` is a public unicast address: never this machine, a private network,
    link-local (the cloud metadata service at 169.254.169.254), multicast, reserved or
    unspecified, nor an IPv6 form that carries one of those (IPv4-mapped, 6to4, NAT64)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if ip.version == 6:
        embedded = _embedded_ipv4(ip)
        if embedded is not None and not public_address(str(embedded)):
            return False
    if any(ip in network for network in NEVER if network.version == ip.version):
        return False
    return ip.is_global and not (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast
                                 or ip.is_reserved or ip.is_unspecified)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _loopback_address(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return ip.is_loopback or (mapped is not None and mapped.is_loopback)


def _allowed(address: str, scheme: str) -> bool:
    if _settings["allow_loopback"] and _loopback_address(address):
        return True
    return scheme == "https" and public_address(address)


def _names_an_address(host: str) -> bool:
    """Whether the resolver would read ``host`` as an address: 127.1, 2130706433, 0x7f000001..."""
    try:
        socket.inet_aton(host)
    except OSError:
        pass
    else:
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def acceptable_base_url(url: str) -> bool:
    """What an administrator may save as a partner's address: ``https://`` and a public name or
    address, no user name, query or fragment. (Where a name leads is checked at each connection.)"""
    try:
        parts = urlsplit((url or "").strip())
        _port = parts.port  # raises on a port that is not a number
    except ValueError:
        return False
    host = (parts.hostname or "").rstrip(".")
    if not host or parts.username is not None or parts.password is not None or parts.query or parts.fragment:
        return False
    if parts.scheme not in ("https", "http"):
        return False
    if _settings["allow_loopback"] and (host == "localhost" or _loopback_address(host)):
        return True
    if parts.scheme != "https":
        return False
    if _names_an_address(host):
        return public_address(host)
    labels = host.lower().split(".")
    # A single label is completed by the resolver's search list: a host of our own network.
    if len(labels) < 2 or labels[-1] in ("localhost", "local", "internal", "lan", "home", "intranet", "corp"):
        return False
    return all(label and len(label) <= 63 and all(c.isalnum() or c == "-" for c in label) for label in labels) \
        and not labels[-1].isdigit()


def _checked_addresses(host: str, port: int, scheme: str) -> list[tuple]:
    """Every address ``host`` resolves to, all of them allowed, or Unreachable."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise Unreachable("name") from None
    if not found:
        raise Unreachable("name")
    if not all(_allowed(sockaddr[0], scheme) for _family, _type, _proto, _name, sockaddr in found):
        # Rebinding, a private name, or the metadata service: no connection is tried at all.
        raise Unreachable("address")
    return [(family, sockaddr) for family, _type, _proto, _name, sockaddr in found]


def _connect_checked(host: str, port: int, scheme: str, timeout: float, deadline: float) -> socket.socket:
    failure = None
    for family, sockaddr in _checked_addresses(host, port, scheme):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise Unreachable("timeout")
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.settimeout(min(timeout, remaining))
        try:
            sock.connect(sockaddr)
        except OSError as error:
            sock.close()
            failure = error
            continue
        return sock
    raise failure or Unreachable("connect")


class _CheckedHTTPConnection(http.client.HTTPConnection):
    deadline = float("inf")

    def connect(self):
        self.sock = _connect_checked(self.host, self.port, "http", self.timeout, self.deadline)
        _within(self.deadline)


class _CheckedHTTPSConnection(http.client.HTTPSConnection):
    deadline = float("inf")

    def connect(self):
        sock = _connect_checked(self.host, self.port, "https", self.timeout, self.deadline)
        try:
            # The certificate is checked for the name, not for the address connected to.
            self.sock = self._context.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise
        _within(self.deadline)


def _within(deadline: float) -> None:
    # The watchdog may have found no socket yet to shut: the time is checked once it exists.
    if time.monotonic() >= deadline:
        raise Unreachable("timeout")


def _cut(connection: http.client.HTTPConnection) -> None:
    """The call's time is up: its socket is shut, so a read waiting on the partner returns at once."""
    sock = connection.sock
    if sock is not None:
        try:
            # The plain socket's shutdown, also under TLS: the TLS object is left to the reading thread.
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
        except OSError:
            pass


def _call(method: str, base_url: str, path: str, headers: dict, body: bytes | None = None) -> Answer:
    if not acceptable_base_url(base_url):
        raise Unreachable("url")
    parts = urlsplit(base_url.strip())
    if parts.scheme == "https":
        connection = _CheckedHTTPSConnection(parts.hostname, parts.port or 443, timeout=TIMEOUT_SECONDS,
                                             context=ssl.create_default_context())
    else:
        connection = _CheckedHTTPConnection(parts.hostname, parts.port or 80, timeout=TIMEOUT_SECONDS)
    connection.deadline = time.monotonic() + CALL_SECONDS
    watchdog = threading.Timer(CALL_SECONDS, _cut, args=(connection,))
    watchdog.daemon = True
    watchdog.start()
    try:
        connection.request(method, parts.path.rstrip("/") + path, body=body, headers=headers)
        response = connection.getresponse()
        if 300 <= response.status < 400:
            # Never followed: it would take the bearer token, or this server, somewhere else.
            raise Unreachable("redirect")
        body = response.read(MAX_ANSWER_BYTES)
        # An answer cut short by the watchdog reads as a short one: it is no answer.
        _within(connection.deadline)
        return Answer(response.status, body)
    except Unreachable:
        raise
    except (OSError, http.client.HTTPException, ValueError) as error:
        if time.monotonic() >= connection.deadline:
            raise Unreachable("timeout") from None
        if isinstance(error, ssl.SSLError):
            raise Unreachable("tls") from None
        if isinstance(error, (TimeoutError, socket.timeout)):
            raise Unreachable("timeout") from None
        raise Unreachable("connection") from None
    finally:
        watchdog.cancel()
        connection.close()


def get(base_url: str, path: str) -> Answer:
    return _call("GET", base_url, path, {"Accept": "application/json"})


def post(base_url: str, path: str, token: str, body: bytes, content_type: str) -> Answer:
    return _call("POST", base_url, path, {"Authorization": f"Bearer {token}", "Content-Type": content_type,
                                          "Accept": "application/json"}, body)


def log_unreachable(partner_id: int | None, error: Unreachable) -> None:
    """The reason, for the operator: which partner and what kind of failure, never an address."""
    log.warning("partner %s could not be reached (%s)", partner_id or "being registered", error.reason)
