"""gzip for text responses: a reporter page on 2G arrives in one round trip.

Compressed only when the browser accepts gzip and the request was not started
by another site: a page that mixes a secret (CSRF token, receipt, case text)
with text an attacker chose must not be an oracle for BREACH. Why this is
enough is in docs/threat-model.md, "Compression".
"""

import gzip

from flask import request

COMPRESSIBLE_TYPES = (
    "text/",
    "application/json",
    "application/problem+json",
    "application/javascript",
    "application/xml",
    "application/manifest+json",
    "image/svg+xml",
)
# Below this, gzip's own 18 bytes and the CPU are not worth it.
MINIMUM_BYTES = 256
# Larger text (an exported file) is sent as it is rather than held twice in memory.
MAXIMUM_BYTES = 4 * 1024 * 1024
LEVEL = 6
# Fetch metadata: a request another site (or a sibling subdomain) made the browser send.
STARTED_ELSEWHERE = ("cross-site", "same-site")
# Partial and empty answers have no whole body to encode.
NOT_COMPRESSED_STATUSES = (204, 206, 304)


def compress(response):
    if not response.mimetype.startswith(COMPRESSIBLE_TYPES):
        return response
    response.vary.add("Accept-Encoding")
    response.vary.add("Sec-Fetch-Site")
    length = response.content_length
    if (
        request.accept_encodings["gzip"] <= 0
        or request.headers.get("Sec-Fetch-Site") in STARTED_ELSEWHERE
        or response.status_code in NOT_COMPRESSED_STATUSES
        or response.status_code < 200
        or "Content-Encoding" in response.headers
        or "Content-Range" in response.headers
        or length is None  # streamed: its length is not known in advance
        or not MINIMUM_BYTES <= length <= MAXIMUM_BYTES
    ):
        return response
    # A static file is sent by passthrough; its length is known and small, so read it here.
    response.direct_passthrough = False
    response.set_data(gzip.compress(response.get_data(), LEVEL, mtime=0))
    response.headers["Content-Encoding"] = "gzip"
    # Byte ranges would count in the identity body, not this one.
    response.headers.pop("Accept-Ranges", None)
    etag, weak = response.get_etag()
    if etag and not weak:
        # The same content, another encoding: a weak validator, still good for 304 answers.
        response.set_etag(etag, weak=True)
    return response
