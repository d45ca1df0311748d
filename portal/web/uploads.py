"""Uploads stay in memory: Werkzeug would spool big ones to a plaintext temp file.

The request size cap bounds the memory this can take.
"""

import io

from flask import Request


class InMemoryUploadRequest(Request):
    def _get_file_stream(self, total_content_length, content_type, filename=None, content_length=None):
        return io.BytesIO()
