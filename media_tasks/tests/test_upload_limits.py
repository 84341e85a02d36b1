"""The upload form's limits: one file, and a body over its bound refused before it is read."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile, TemporaryUploadedFile
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.urls import reverse
from django.utils import timezone

from tests.support import images
from tests.support.request_limits import assert_twenty_files_of_9_mb_are_refused_and_never_held, bounded_web
from tests.support.web import WebDyno

MB = 1024 * 1024


# --- Per view, in Django --------------------------------------------------------------------


def _jpeg(name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, images.jpeg_bytes(400, 300), content_type="image/jpeg")


@pytest.mark.django_db
def test_the_upload_form_takes_one_file_and_refuses_a_second(signed_in_client, user):
    from media_tasks.models import Image

    user.email_confirmed_at = timezone.now()
    user.save()

    response = signed_in_client.post(reverse("upload"), {"file": [_jpeg("a.jpg"), _jpeg("b.jpg")]})

    assert response.status_code == 400
    assert Image.objects.count() == 0


@pytest.mark.django_db
def test_an_upload_body_larger_than_the_view_takes_is_refused_before_it_is_read(signed_in_client, settings):
    upload = signed_in_client.post(
        reverse("upload"),
        data=b"",
        content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(settings.REQUEST_MAX_BYTES + 1),
    )

    assert upload.status_code == 413


def _png_of_exactly(size: int) -> bytes:
    """A valid PNG padded to `size` bytes with a private ancillary chunk of zeros (ignored by decoders)."""
    base = images.encode(images.quadrants(64, 48), "PNG")
    padded = images.png_with_chunk(base, b"prVt", bytes(size - len(base) - 12))
    assert len(padded) == size
    return padded


@pytest.fixture
def temporary_upload_files(settings, tmp_path, monkeypatch) -> Iterator[list[str]]:
    """Every named temporary file an upload handler opens during the test (observed, not changed)."""
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "upload-temp")
    (tmp_path / "upload-temp").mkdir()
    opened: list[str] = []
    handler_new_file = TemporaryFileUploadHandler.new_file
    file_init = TemporaryUploadedFile.__init__

    def recording_new_file(self, *args, **kwargs):
        opened.append(f"TemporaryFileUploadHandler.new_file{args[:2]}")
        return handler_new_file(self, *args, **kwargs)

    def recording_init(self, name, *args, **kwargs):
        file_init(self, name, *args, **kwargs)
        opened.append(self.temporary_file_path())

    monkeypatch.setattr(TemporaryFileUploadHandler, "new_file", recording_new_file)
    monkeypatch.setattr(TemporaryUploadedFile, "__init__", recording_init)
    yield opened
    assert list((tmp_path / "upload-temp").iterdir()) == []


NEAR_THE_LIMIT = pytest.mark.parametrize("beside_fields", [False, True], ids=["file-alone", "beside-fields"])


def _post_file_of(client, size: int, *, beside_fields: bool):
    upload = SimpleUploadedFile("near.png", _png_of_exactly(size), content_type="image/png")
    data = {"title": "Holiday", "file": upload, "note": "x" * 200} if beside_fields else {"file": upload}
    return client.post(reverse("upload"), data)


@pytest.mark.django_db
@NEAR_THE_LIMIT
@pytest.mark.parametrize("below", [1, 0], ids=["limit-1", "at-limit"])
def test_a_file_up_to_the_limit_is_accepted_and_never_written_to_a_temporary_file(
    signed_in_client, settings, temporary_upload_files, below, beside_fields
):
    from media_tasks.models import Image

    size = settings.MAX_UPLOAD_BYTES - below
    response = _post_file_of(signed_in_client, size, beside_fields=beside_fields)

    assert response.status_code == 302, response.content.decode()[:2000]
    assert Image.objects.get().original.size == size
    assert temporary_upload_files == []


@pytest.mark.django_db
@NEAR_THE_LIMIT
def test_a_file_one_byte_over_the_limit_is_refused_and_never_written_to_a_temporary_file(
    signed_in_client, settings, temporary_upload_files, beside_fields
):
    from media_tasks.models import Image

    response = _post_file_of(signed_in_client, settings.MAX_UPLOAD_BYTES + 1, beside_fields=beside_fields)

    assert response.status_code == 400
    assert f"The file is larger than the {settings.MAX_UPLOAD_BYTES / MB:g} MB limit." in response.content.decode()
    assert Image.objects.count() == 0
    assert temporary_upload_files == []


@pytest.fixture
def web(worker_env) -> Iterator[WebDyno]:
    with bounded_web(worker_env) as dyno:
        yield dyno


@pytest.mark.slow
def test_twenty_files_of_9_mb_to_the_upload_form_are_refused_and_never_held(web, settings):
    assert_twenty_files_of_9_mb_are_refused_and_never_held(web, "/upload/", settings)
