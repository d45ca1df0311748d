"""Uploads stay in memory: Werkzeug would spool big ones to a plaintext temp file.

The request size cap bounds the memory this can take.
"""

import io

from flask import Request, request
from flask_babel import gettext as _

from .form_body import FormBodyParser


class InMemoryUploadRequest(Request):
    form_data_parser_class = FormBodyParser

    def _get_file_stream(self, total_content_length, content_type, filename=None, content_length=None):
        return io.BytesIO()


def chosen_files(field_names):
    """Each file chosen in the form's file inputs: ``(name the browser gave, bytes)``.

    An input left empty sends a part with neither name nor bytes: it is no file.
    """
    for name in field_names:
        for storage in request.files.getlist(name):
            data = storage.stream.read()
            if data or storage.filename:
                yield storage.filename or "", data


def uploaded_files(field_names, config):
    """The uploaded files' bytes, or ``(None, (message, status))`` when one is refused."""
    limit = config["MAX_ATTACHMENT_BYTES"]
    files = []
    for _name, data in chosen_files(field_names):
        if len(data) > limit:
            return None, (_("A file is too big. Each file can be up to %(size)s MB.",
                            size=limit // (1024 * 1024)), 413)
        files.append(data)
    if len(files) > config["MAX_ATTACHMENTS"]:
        return None, (_("Too many files. You can send up to %(count)s files at a time.",
                        count=config["MAX_ATTACHMENTS"]), 400)
    return files, None
