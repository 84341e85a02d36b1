"""A view refuses a body larger than it takes, and a file part it does not take, before reading it.

Through Django's test client; the server's bounds (body size, file parts, time to arrive) are
tests/system/test_gunicorn_worker.py's.
"""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests.support import images

# --- Per view, in Django --------------------------------------------------------------------


def _jpeg(name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, images.jpeg_bytes(400, 300), content_type="image/jpeg")


@pytest.mark.django_db
def test_a_form_that_takes_no_file_refuses_a_file_part(client, user):
    response = client.post(
        reverse("login"), {"username": user.email, "password": "a-long-passphrase-42", "file": _jpeg("x.jpg")}
    )

    assert response.status_code == 400
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_a_body_larger_than_the_view_takes_is_refused_before_it_is_read(signed_in_client, settings):
    login = signed_in_client.post(
        reverse("login"),
        data=b"",
        content_type="application/x-www-form-urlencoded",
        CONTENT_LENGTH=str(settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1),
    )

    assert login.status_code == 413
    assert "larger than this page accepts" in login.content.decode()
