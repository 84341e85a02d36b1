"""Bounds on a request's body, per view: its total size, how many files, how large each.

A view takes no file unless it says so with `@accepts_files(n)`. Before anything reads the
body, RequestBodyLimitMiddleware answers 413 to a declared length larger than the view takes
(settings.REQUEST_MAX_BYTES with files, DATA_UPLOAD_MAX_MEMORY_SIZE without); while the body
is parsed, UploadLimitsHandler refuses a file part past the view's count (400) and drops a
file as soon as it passes MAX_UPLOAD_BYTES. The web dyno's gunicorn worker has already
refused anything over REQUEST_MAX_BYTES before reading it (project/gunicorn_worker.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.core.exceptions import TooManyFilesSent
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.http import HttpRequest, HttpResponse

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
        limit = settings.REQUEST_MAX_BYTES if files else settings.DATA_UPLOAD_MAX_MEMORY_SIZE
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
    """First in FILE_UPLOAD_HANDLERS: counts file parts and bounds each file's size.

    A file over MAX_UPLOAD_BYTES is skipped, the rest of it read and discarded so the request
    still parses; the view then sees `request.upload_too_large` and shows the size error.
    """

    # Django always passes the request, and this handler marks it (upload_too_large).
    request: Any

    def __init__(self, request: Any = None) -> None:
        super().__init__(request)
        self.files = 0
        self.received = 0

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.files += 1
        accepted = getattr(self.request, "files_accepted", 0)
        if self.files > accepted:
            # Django answers 400 to this (a SuspiciousOperation) and stops reading the body.
            raise TooManyFilesSent(f"This form takes {accepted} file(s); the request sent more.")
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > settings.MAX_UPLOAD_BYTES:
            self.request.upload_too_large = True
            raise SkipFile
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None
