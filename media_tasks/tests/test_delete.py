"""Deleting your own image: a confirmation first, the rows in one transaction, the stored files after the commit.

The race tests run the real worker (`manage.py rqworker --burst`) on both media storages the
project offers: the database one (the default) and the filesystem, which no transaction covers.
"""

from __future__ import annotations

import concurrent.futures
import time
from pathlib import Path

import django_rq
import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.urls import reverse

from files.models import StoredFile
from media_tasks import image_lifecycle, jobs
from media_tasks.models import Image, Thumbnail
from media_tasks.tests.support import slowed_thumbnails
from tests.support import images

STORAGES = {
    "database": "files.storage.DatabaseStorage",
    "filesystem": "django.core.files.storage.FileSystemStorage",
}


@pytest.fixture(params=sorted(STORAGES))
def media_storage(request, settings) -> str:
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": STORAGES[request.param]}}
    return request.param


def upload(client, name: str = "holiday.jpg") -> Image:
    # Wider than the largest thumbnail, so the job stores three of them.
    data = images.jpeg_bytes(1800, 1200)
    response = client.post(reverse("upload"), {"file": SimpleUploadedFile(name, data, content_type="image/jpeg")})
    assert response.status_code == 302
    return Image.objects.filter(original_name=name).latest("id")


def stored_files(media_root: Path) -> list[str]:
    """Every file either storage holds: what must be empty once the only image is deleted."""
    on_disk = [str(path.relative_to(media_root)) for path in media_root.rglob("*") if path.is_file()]
    return sorted([*StoredFile.objects.values_list("name", flat=True), *on_disk])


def failed_jobs() -> list[str]:
    return django_rq.get_queue("default").failed_job_registry.get_job_ids()


@pytest.mark.django_db
def test_the_delete_link_asks_first_and_a_get_deletes_nothing(signed_in_client, user):
    image = upload(signed_in_client)

    gallery = signed_in_client.get(reverse("gallery")).content.decode()
    confirm_url = reverse("image_delete_confirm", args=[image.id])
    assert f'href="{confirm_url}"' in gallery
    page = signed_in_client.get(confirm_url)
    assert page.status_code == 200
    assert "Delete “holiday.jpg”?" in page.content.decode()
    assert f'action="{reverse("image_delete", args=[image.id])}"' in page.content.decode()
    assert signed_in_client.get(reverse("image_delete", args=[image.id])).status_code == 405
    assert Image.objects.filter(pk=image.pk).exists()


@pytest.mark.django_db
def test_deleting_removes_the_rows_and_then_the_stored_files(
    signed_in_client, user, django_capture_on_commit_callbacks, settings
):
    settings.KEEP_ORIGINAL_UPLOADS = True
    image = upload(signed_in_client)
    jobs.make_thumbnails(image.pk)
    names = [image.original.name, *Thumbnail.objects.filter(image=image).values_list("file", flat=True)]
    assert len(names) == 4 and all(default_storage.exists(name) for name in names)

    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in_client.post(reverse("image_delete", args=[image.id]))

    assert response.status_code == 302 and response["Location"] == reverse("gallery")
    assert not Image.objects.filter(pk=image.pk).exists()
    assert not Thumbnail.objects.filter(image_id=image.pk).exists()
    assert not any(default_storage.exists(name) for name in names)
    page = signed_in_client.get(reverse("gallery")).content.decode()
    assert "“holiday.jpg” is deleted." in page


@pytest.mark.django_db
def test_a_delete_that_rolls_back_keeps_the_files_its_rows_still_name(
    signed_in_client, user, django_capture_on_commit_callbacks
):
    image = upload(signed_in_client)
    original = image.original.name

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        assert image_lifecycle.image_delete(image=image, user=user)
        raise RuntimeError("something later in the same transaction failed")

    assert Image.objects.filter(pk=image.pk).exists()
    assert default_storage.exists(original)


@pytest.mark.django_db
def test_nobody_can_delete_someone_elses_image(client, user, django_user_model, signed_in_client):
    image = upload(signed_in_client)
    other = django_user_model.objects.create_user(email="eve@example.com", password="e-long-passphrase-42")
    client.force_login(other)

    assert client.get(reverse("image_delete_confirm", args=[image.id])).status_code == 404
    response = client.post(reverse("image_delete", args=[image.id]))

    assert response.status_code == 302
    assert Image.objects.filter(pk=image.pk).exists()
    assert not image_lifecycle.image_delete(image=image, user=other)


@pytest.mark.django_db
def test_deleting_twice_says_it_is_already_deleted(signed_in_client, user):
    image = upload(signed_in_client)
    signed_in_client.post(reverse("image_delete", args=[image.id]))

    response = signed_in_client.post(reverse("image_delete", args=[image.id]), follow=True)

    assert response.status_code == 200
    assert "That image is already deleted." in response.content.decode()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_an_image_deleted_while_its_job_is_queued_ends_quietly_and_leaves_no_file(
    signed_in_client, user, media_storage, run_worker, _media_in_tmp
):
    image = upload(signed_in_client)
    assert django_rq.get_queue("default").count == 1

    signed_in_client.post(reverse("image_delete", args=[image.id]))
    result = run_worker("default", extra_env={"MEDIA_STORAGE": media_storage})

    output = result.stdout + result.stderr
    assert f"image {image.id} is gone" in output
    assert "Traceback" not in output
    assert failed_jobs() == []
    assert stored_files(_media_in_tmp) == []


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_an_image_deleted_while_its_job_runs_ends_quietly_and_leaves_no_file(
    signed_in_client, user, media_storage, run_worker, _media_in_tmp
):
    image = upload(signed_in_client)
    # The worker sleeps 3 s inside rendering (support.slowed_thumbnails): the delete lands mid-run.
    slow = {"MEDIA_STORAGE": media_storage, **slowed_thumbnails(3)}
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        worker = pool.submit(run_worker, "default", extra_env=slow)
        deadline = time.monotonic() + 60
        while Image.objects.get(pk=image.pk).status != Image.Status.PROCESSING:
            assert time.monotonic() < deadline, "the worker never claimed the image"
            assert not worker.done(), worker.result().stdout
            time.sleep(0.05)
        response = signed_in_client.post(reverse("image_delete", args=[image.id]))
        assert response.status_code == 302
        assert not Image.objects.filter(pk=image.pk).exists()
        result = worker.result(timeout=120)

    output = result.stdout + result.stderr
    assert f"image {image.id} was deleted while its thumbnails were made" in output
    assert "Traceback" not in output
    assert failed_jobs() == []
    assert stored_files(_media_in_tmp) == []
