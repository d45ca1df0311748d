"""Reading a form's body: the common small one in one pass, anything else as Werkzeug does.

Werkzeug's multipart parser is a streaming state machine that compiles two
regular expressions for every body (each has its own random boundary): for the
report form, a third of a request's work. A small body as browsers write it
(every line break CRLF, every occurrence of the boundary a delimiter, plain
part headers) is read here in one pass over bytes already in memory; whatever
this reader does not recognise, and every body larger than a text field may be,
goes to Werkzeug's parser unchanged (so does every body Werkzeug would not read in one
piece), so the two agree on every body (a test
holds them to it) and so do their limits: the parts' count and a text field's size.
"""

import io
import re

from werkzeug.datastructures import FileStorage, Headers
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import FormDataParser, MultiPartParser
from werkzeug.http import parse_options_header

# The Content-Disposition browsers write: nothing escaped, no extended parameters.
_PLAIN_DISPOSITION = re.compile(
    r'form-data; name="([^"\\%\x00-\x1f\x7f]*)"(?:; filename="([^"\\%\x00-\x1f\x7f]*)")?')


# Werkzeug reads a body this much at a time, and its reading of a delimiter split between two
# reads is not always its reading of the same delimiter read whole (``B\r\n--b-`` | ``-``
# leaves the field ``B\r``): only a body it reads in one piece is read here.
_ONE_READ = MultiPartParser().buffer_size


class _Unusual(Exception):
    """A body this reader leaves to Werkzeug's parser."""


class FormBodyParser(FormDataParser):
    def _parse_multipart(self, stream, mimetype, content_length, options):
        boundary = options.get("boundary", "").encode("ascii")
        limit = _ONE_READ if self.max_form_memory_size is None else min(self.max_form_memory_size, _ONE_READ)
        small = content_length is not None and content_length <= limit
        if not boundary or not small:
            return super()._parse_multipart(stream, mimetype, content_length, options)
        body = stream.read()
        try:
            fields, files = self._read(body, boundary, content_length)
        except _Unusual:
            _, form, uploads = super()._parse_multipart(io.BytesIO(body), mimetype, content_length, options)
            return stream, form, uploads
        return stream, self.cls(fields), self.cls(files)

    def _read(self, body: bytes, boundary: bytes, content_length):
        delimiter = b"--" + boundary
        chunks = body.split(delimiter)
        # The first delimiter opens the body (no preamble) and the last is the closing one.
        if chunks[0] or len(chunks) < 2 or not chunks[-1].startswith(b"--"):
            raise _Unusual
        charset_of = MultiPartParser().get_part_charset
        fields, files = [], []
        for count, chunk in enumerate(chunks[1:-1], start=1):
            if not (chunk.startswith(b"\r\n") and chunk.endswith(b"\r\n")):
                raise _Unusual
            raw_headers, blank, data = chunk[2:-2].partition(b"\r\n\r\n")
            if not blank:
                raise _Unusual
            headers = _headers(raw_headers)
            name, filename = _disposition(headers)
            # As Werkzeug does, when the part too many is met. (No text field here can be too big:
            # the whole body is no bigger than one may be.)
            if self.max_form_parts is not None and count > self.max_form_parts:
                raise RequestEntityTooLarge()
            if filename is None:
                fields.append((name, data.decode(charset_of(headers), "replace")))
            else:
                container = self.stream_factory(total_content_length=content_length, filename=filename,
                                                content_type=headers.get("content-type"), content_length=0)
                container.write(data)
                container.seek(0)
                files.append((name, FileStorage(container, filename, name, headers=headers)))
        return fields, files


def _headers(raw: bytes) -> Headers:
    lines = [line for line in raw.split(b"\r\n") if line]
    if any(b"\r" in line or b"\n" in line or line[:1] in (b" ", b"\t") for line in lines):
        raise _Unusual  # a lone line break, or a header folded over two lines
    try:
        text = [line.decode() for line in lines]
    except UnicodeDecodeError:
        raise _Unusual from None
    headers = []
    for line in text:
        name, _, value = line.strip(" \t").partition(":")
        headers.append((name.strip(" \t"), value.strip(" \t")))
    return Headers(headers)


def _disposition(headers: Headers) -> tuple[str | None, str | None]:
    value = headers.get("content-disposition")
    if value is None:
        raise _Unusual
    plain = _PLAIN_DISPOSITION.fullmatch(value)
    if plain:
        return plain.group(1), plain.group(2)
    _, extra = parse_options_header(value)
    return extra.get("name"), extra.get("filename")
