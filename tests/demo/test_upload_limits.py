"""The upload form's limits: one file, and a body over its bound refused before it is read."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from tests.support import images
from tests.support.web import WebDyno
from tests.test_request_limits import assert_twenty_files_of_9_mb_are_refused_and_never_held, bounded_web

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


@pytest.fixture
def web(worker_env) -> Iterator[WebDyno]:
    with bounded_web(worker_env) as dyno:
        yield dyno


@pytest.mark.slow
def test_twenty_files_of_9_mb_to_the_upload_form_are_refused_and_never_held(web, settings):
    assert_twenty_files_of_9_mb_are_refused_and_never_held(web, "/upload/", settings)
