"""Fixtures of the demo's tests (media_tasks: uploads, thumbnails, the gallery).

The core's fixtures (conftest.py at the top, with the S3, email-delivery and malformed-URL
ones) serve these tests too; what several of these modules share is in support.py.
"""

from __future__ import annotations

import pytest

from tests.support import images


@pytest.fixture
def jpeg_upload():
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("holiday.jpg", images.jpeg_bytes(1200, 900), content_type="image/jpeg")


@pytest.fixture
def unconfirmed(client, django_user_model):
    """A signed-in person who has not confirmed their address yet."""
    person = django_user_model.objects.create_user(email="una@example.com", password="u-long-passphrase-42")
    client.force_login(person)
    return person
