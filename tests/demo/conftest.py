"""Fixtures of the demo's tests (media_tasks: uploads, thumbnails, the gallery).

The core's fixtures (tests/conftest.py) serve these tests too; the S3, email-delivery and
malformed-URL fixtures come from the core tests they belong to.
"""

from __future__ import annotations

import pytest

from tests.support import images
from tests.test_email_delivery import fast_schedule, start_worker  # noqa: F401 - fixtures for the demo's tests
from tests.test_malformed_urls import visitor  # noqa: F401
from tests.test_s3_storage import (  # noqa: F401
    bucket,
    localstack_endpoint,
    s3_client,
    s3_endpoint,
    s3_env,
    s3_media,
)


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
