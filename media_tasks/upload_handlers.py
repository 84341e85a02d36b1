"""Refuse oversized uploads while they stream in, before they fill memory or disk."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, SkipFile


class UploadSizeLimitHandler(FileUploadHandler):
    """First in FILE_UPLOAD_HANDLERS: drops a file as soon as it passes MAX_UPLOAD_BYTES.

    The rest of that file is read and discarded, so the request still parses; the view then
    sees `request.upload_too_large` and shows the size error.
    """

    def __init__(self, request: Any = None) -> None:
        super().__init__(request)
        self.received = 0

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > settings.MAX_UPLOAD_BYTES:
            self.request.upload_too_large = True
            raise SkipFile
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None
