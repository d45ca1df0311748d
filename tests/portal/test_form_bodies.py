"""Every form body is read as Werkzeug reads it: the portal's one-pass reader of small
bodies (portal/web/common/form_body.py) may only be faster, never different.

Bodies as browsers write them, and bodies no browser writes (lone line breaks, folded
or missing headers, the boundary inside a value, a preamble, no closing delimiter,
too many parts, a field too big, escaped and extended names), built from a fixed seed
so a failure comes back the same.
"""

import io
import random

import pytest
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from portal.web.common.uploads import InMemoryUploadRequest

MAX_FIELD = 4096
MAX_PARTS = 12


class WerkzeugRequest(Request):
    """Werkzeug's own reading, files in memory as the portal keeps them."""

    max_form_memory_size = MAX_FIELD
    max_form_parts = MAX_PARTS

    def _get_file_stream(self, *args, **kwargs):
        return io.BytesIO()


class PortalRequest(InMemoryUploadRequest):
    max_form_memory_size = MAX_FIELD
    max_form_parts = MAX_PARTS


def read(request_class, body: bytes, boundary: str):
    environ = EnvironBuilder(method="POST", data=body,
                             content_type=f"multipart/form-data; boundary={boundary}").get_environ()
    request = request_class(environ)
    try:
        form = [(name, value) for name, value in request.form.items(multi=True)]
        files = [(name, f.filename, f.headers.get("content-type"), f.stream.read())
                 for name, f in request.files.items(multi=True)]
    except RequestEntityTooLarge:
        return "413"
    return form, files


def assert_read_alike(body: bytes, boundary: str):
    assert read(PortalRequest, body, boundary) == read(WerkzeugRequest, body, boundary), body[:300]


NAMES = ["description", "categories", "a b", "ñame", "名前", 'quo"te', "back\\slash", "per%63ent", "", "x;y"]
VALUES = ["", "plain", "two\r\nlines", "lone\nlf", "lone\rcr", "Việt Nam", "မြန်မာ", "--", "\r\n\r\n",
          "-" * 80, "x" * (MAX_FIELD + 1)]


def browser_body(rng: random.Random, boundary: str, parts: int) -> bytes:
    out = io.BytesIO()
    for _ in range(parts):
        out.write(f"--{boundary}\r\n".encode())
        name = rng.choice(NAMES).replace('"', "%22")
        if rng.random() < 0.3:
            data = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 64)))
            if rng.random() < 0.3:
                data += f"\r\n--{boundary}x".encode()  # the boundary's start, inside a file
            filename = rng.choice(["", "photo.jpg", "été.pdf", "a%22b.png"])
            out.write(f'Content-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                      f"Content-Type: application/octet-stream\r\n\r\n".encode())
            out.write(data)
        else:
            out.write(f'Content-Disposition: form-data; name="{name}"\r\n\r\n'.encode())
            out.write(rng.choice(VALUES).encode())
        out.write(b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue()


MUTATIONS = [
    lambda body, b: body.replace(b"\r\n", b"\n"),
    lambda body, b: body.replace(b"\r\n", b"\r", 3),
    lambda body, b: b"a preamble\r\n" + body,
    lambda body, b: body + b"an epilogue --" + b + b"\r\n",
    lambda body, b: body[: body.rfind(b"--" + b)],
    lambda body, b: body[:-10],
    lambda body, b: body.replace(b"Content-Disposition: form-data;", b"Content-Disposition: form-data;\r\n ", 1),
    lambda body, b: body.replace(b"Content-Disposition", b"Content-Dispositio", 1),
    lambda body, b: body.replace(b"form-data;", b"FORM-DATA ;", 1),
    lambda body, b: body.replace(b'name="', b"name*=UTF-8''%C3%A9", 1),
    lambda body, b: body.replace(b'"\r\n\r\n', b'"\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\n', 1),
    lambda body, b: body.replace(b'"\r\n\r\n', b'"\r\nX: \xff\xfe\r\n\r\n', 1),
    lambda body, b: body.replace(b"--" + b + b"\r\n", b"--" + b + b"  \t\r\n", 1),
    lambda body, b: body.replace(b"\r\n\r\n", b"\r\n", 1),
    lambda body, b: body.replace(b"\r\n--" + b, b"--" + b, 1),
    lambda body, b: body.replace(b"\r\n--" + b + b"\r\n", b"\r\n--" + b + b"--\r\n", 1),
    lambda body, b: body.replace(b"\r\n\r\n", b"\r\n\r\n\r\n--" + b + b"\r\n", 1),
]


@pytest.mark.parametrize("seed", range(40))
def test_a_body_as_browsers_write_it_is_read_as_werkzeug_reads_it(seed):
    rng = random.Random(seed)
    boundary = rng.choice(["----WebKitFormBoundary", "---------------------------", "x", "a'()+_,-./:=?"]) + \
        "".join(rng.choice("0123456789abcdefXYZ") for _ in range(rng.randrange(1, 30)))
    body = browser_body(rng, boundary, rng.randrange(0, MAX_PARTS + 3))
    assert_read_alike(body, boundary)


@pytest.mark.parametrize("seed", range(40))
@pytest.mark.parametrize("mutation", range(len(MUTATIONS)))
def test_a_body_no_browser_writes_is_read_as_werkzeug_reads_it(seed, mutation):
    rng = random.Random(seed * 1000 + mutation)
    boundary = "----WebKitFormBoundary" + "".join(rng.choice("0123456789abcdef") for _ in range(16))
    body = MUTATIONS[mutation](browser_body(rng, boundary, rng.randrange(1, 8)), boundary.encode())
    assert_read_alike(body, boundary)


def test_a_body_bigger_than_a_text_field_may_be_is_read_by_werkzeug_as_it_streams():
    rng = random.Random(7)
    boundary = "big" + "7" * 20
    body = browser_body(rng, boundary, 3)
    body = body.replace(b"--" + boundary.encode() + b"--", b"--" + boundary.encode() + b"\r\n"
                        b'Content-Disposition: form-data; name="f"; filename="big.bin"\r\n\r\n'
                        + b"\r\n" * MAX_FIELD + b"\r\n--" + boundary.encode() + b"--")
    assert_read_alike(body, boundary)


class WerkzeugRequestAtPortalLimits(WerkzeugRequest):
    max_form_memory_size = 1024 * 1024  # the portal's MAX_FORM_MEMORY_SIZE


class PortalRequestAtPortalLimits(InMemoryUploadRequest):
    max_form_memory_size = 1024 * 1024
    max_form_parts = MAX_PARTS


@pytest.mark.parametrize("end", range(-12, 4))
def test_a_body_werkzeug_reads_in_two_pieces_is_read_as_werkzeug_reads_it(end):
    """The portal's text fields may be as big as 1 MB, but Werkzeug reads a body 64 KiB at a
    time: a body whose last delimiter straddles that read is read alike all the same."""
    boundary = "xyz"
    tail = b'Content-Disposition: form-data; name="b"\r\n\r\nB\r\n--xyz--\r\n'
    head = b'--xyz\r\nContent-Disposition: form-data; name="a"\r\n\r\n'
    padding = 64 * 1024 + end - len(head) - len(b"\r\n--xyz\r\n") - len(tail) + 3
    body = head + b"A" * padding + b"\r\n--xyz\r\n" + tail
    environ = dict(data=body, content_type=f"multipart/form-data; boundary={boundary}")

    def read_with(request_class):
        request = request_class(EnvironBuilder(method="POST", **environ).get_environ())
        return list(request.form.items(multi=True))

    assert read_with(PortalRequestAtPortalLimits) == read_with(WerkzeugRequestAtPortalLimits)
