"""A minimal browser over real HTTP (urllib): cookies, forms with their CSRF token, no JavaScript.

For tests that talk to real servers in other processes, where Flask's test
client cannot go.
"""

import http.cookiejar
import re
import secrets
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
RECEIPT = re.compile(r'class="receipt"[^>]*>([0-9 ]+)<')


@dataclass
class Page:
    status: int
    url: str
    text: str

    def csrf(self) -> str:
        match = CSRF.search(self.text)
        assert match, f"no CSRF token on {self.url}"
        return match.group(1)

    def receipt(self) -> str:
        match = RECEIPT.search(self.text)
        assert match, f"no receipt on {self.url}"
        return match.group(1)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    def __init__(self, follow_redirects: bool = True, timeout: float = 30):
        self.cookies = http.cookiejar.CookieJar()
        handlers = [urllib.request.HTTPCookieProcessor(self.cookies)]
        if not follow_redirects:
            handlers.append(NoRedirect())
        self.opener = urllib.request.build_opener(*handlers)
        self.timeout = timeout

    def _open(self, request) -> Page:
        try:
            with self.opener.open(request, timeout=self.timeout) as response:
                return Page(response.status, response.url, response.read().decode("utf-8", "replace"))
        except urllib.error.HTTPError as error:
            return Page(error.code, request.full_url, error.read().decode("utf-8", "replace"))

    def get(self, url: str) -> Page:
        return self._open(urllib.request.Request(url))

    def post(self, url: str, fields: dict) -> Page:
        body = urllib.parse.urlencode(fields, doseq=True).encode()
        return self._open(urllib.request.Request(url, data=body, method="POST",
                                                 headers={"Content-Type": "application/x-www-form-urlencoded"}))

    def post_files(self, url: str, fields: dict, files: dict[str, tuple[str, bytes, str]]) -> Page:
        """A form with files, as a browser sends it: multipart/form-data with a length;
        ``files`` maps a field to (file name, content, type)."""
        boundary = f"----form{secrets.token_hex(12)}"
        parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
                 for name, values in fields.items() for value in (values if isinstance(values, list) else [values])]
        for name, (filename, content, content_type) in files.items():
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"'
                         f'\r\nContent-Type: {content_type}\r\n\r\n'.encode() + content + b"\r\n")
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        return self._open(urllib.request.Request(url, data=body, method="POST",
                                                 headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}))
