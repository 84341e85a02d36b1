"""Bounds on a request's body, per view: its total size, how many files, how large each.

A view takes no file unless it says so with `@accepts_files(n)`. Before anything reads the
body, RequestBodyLimitMiddleware answers 413 to a declared length larger than the view takes
(REQUEST_MAX_BYTES with files, DATA_UPLOAD_MAX_MEMORY_SIZE without); while the body
is parsed, UploadLimitsHandler refuses a file part past the view's count (400), drops a
file as soon as it passes MAX_UPLOAD_BYTES, and holds each file it accepts in memory, so no
upload is ever written to a temporary file. The web dyno's gunicorn worker has already
refused anything over REQUEST_MAX_BYTES before reading it (web/gunicorn_worker.py).
"""

from __future__ import annotations

from collections.abc import Callable
from io import BytesIO
from typing import Any, TypeVar

from django.conf import settings
from django.core.exceptions import TooManyFilesSent
from django.core.files.uploadedfile import InMemoryUploadedFile
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.http import HttpRequest, HttpResponse

from web import conf

View = TypeVar("View", bound=Callable[..., Any])


def accepts_files(count: int) -> Callable[[View], View]:
    """Mark a view as taking up to `count` file parts (outermost, or under functools.wraps)."""

    def mark(view: View) -> View:
        view.accepts_files = count  # type: ignore[attr-defined]
        return view

    return mark


def _files_accepted(view: Callable[..., Any]) -> int:
    return int(getattr(view, "accepts_files", 0))


class RequestBodyLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any
    ) -> HttpResponse | None:
        files = _files_accepted(view)
        request.files_accepted = files  # type: ignore[attr-defined]
        limit = conf.REQUEST_MAX_BYTES() if files else settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.headers.get("content-length") or 0)
        except ValueError:
            length = 0  # Django reads no body without a valid length
        if limit is not None and length > limit:
            return HttpResponse(
                f"The request is larger than this page accepts ({limit / (1024 * 1024):.1f} MB at most).",
                content_type="text/plain; charset=utf-8",
                status=413,
            )
        return None


class UploadLimitsHandler(FileUploadHandler):
    """The only upload handler (FILE_UPLOAD_HANDLERS): counts file parts, bounds each file's
    size, and keeps each file it accepts in memory.

    Django's own pair decides memory or a named temporary file from the whole request's length,
    so a file near MAX_UPLOAD_BYTES, whose body with its framing is just over, went to disk.
    Here the bound is per file, checked as each chunk arrives: a file over MAX_UPLOAD_BYTES is
    skipped (Django closes what it held and reads the rest of the part without keeping it) and
    the view sees `request.upload_too_large` and shows the size error. So a request holds at most
    its view's file count times MAX_UPLOAD_BYTES, and nothing is written to disk.
    """

    # Django always passes the request, and this handler marks it (upload_too_large).
    request: Any

    def __init__(self, request: Any = None) -> None:
        super().__init__(request)
        self.files = 0
        self.received = 0
        # Django's parser closes `file` when a file is skipped or the upload stopped.
        self.file = BytesIO()

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.files += 1
        accepted = getattr(self.request, "files_accepted", 0)
        if self.files > accepted:
            # Django answers 400 to this (a SuspiciousOperation) and stops reading the body.
            raise TooManyFilesSent(f"This form takes {accepted} file(s); the request sent more.")
        self.received = 0
        self.file = BytesIO()

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        self.received += len(raw_data)
        if self.received > conf.MAX_UPLOAD_BYTES():
            self.request.upload_too_large = True
            raise SkipFile
        self.file.write(raw_data)
        return None  # kept here: no later handler sees the chunk

    def file_complete(self, file_size: int) -> InMemoryUploadedFile:
        self.file.seek(0)
        return InMemoryUploadedFile(
            file=self.file,
            field_name=self.field_name,
            name=self.file_name,
            content_type=self.content_type,
            size=file_size,
            charset=self.charset,
            content_type_extra=self.content_type_extra,
        )
