"""Uploads straight from the browser to the bucket (issue 16), against an S3 server: moto, or
LocalStack's S3 with S3_TEST_SERVER=localstack (CI runs these files under both).

The test posts the presigned form to the server over HTTP with `requests`, as a browser would;
the site only ever sees the presign and complete requests, which carry no file bytes. moto 5.2.5
evaluates no POST policy and answers CORS for every origin; LocalStack, like S3, refuses a file
outside the policy's size range, a key other than the policy's, an expired policy, and a
preflight from an origin the bucket's CORS rule does not name. Neither checks the policy's
signature (S3 does): the tests that need the bucket's own refusals skip under moto.
"""

from __future__ import annotations

import html
import io
import json
import threading
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
import requests
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from media_tasks import direct_upload, jobs, upload_checks
from media_tasks.models import Image
from media_tasks.tests.support import HOSTILE
from tests.support import images
from tests.support.s3 import BUCKET, ON_LOCALSTACK, object_exists, object_keys
from work import claims

# For the tests of what only the bucket refuses: moto accepts all of it.
needs_localstack = pytest.mark.skipif(
    not ON_LOCALSTACK,
    reason="moto 5.2.5 evaluates no presigned POST policy and answers CORS for every origin; "
    "run with S3_TEST_SERVER=localstack (CI's LocalStack step does)",
)


def presign(client, name: str = "holiday.jpg") -> dict:
    response = client.post(reverse("upload_presign"), {"name": name})
    assert response.status_code == 200, response.content
    return response.json()


def post_to_bucket(presigned: dict, data: bytes, name: str = "holiday.jpg") -> requests.Response:
    # What the gallery's script sends: the policy's fields, then the file last, as S3 requires.
    return requests.post(
        presigned["url"], data=presigned["fields"], files={"file": (name, io.BytesIO(data))}, timeout=30
    )


def complete(client, key: str):
    return client.post(reverse("upload_complete"), {"key": key})


def upload_directly(client, data: bytes, name: str = "holiday.jpg") -> str:
    presigned = presign(client, name)
    response = post_to_bucket(presigned, data, name)
    assert response.status_code in {200, 201, 204}, response.text
    return presigned["key"]


@pytest.mark.django_db
def test_without_a_bucket_there_is_no_direct_upload(signed_in_client):
    assert signed_in_client.post(reverse("upload_presign"), {"name": "a.jpg"}).status_code == 404
    assert signed_in_client.post(reverse("upload_complete"), {"key": "uploads/1/x/a.jpg"}).status_code == 404
    page = signed_in_client.get(reverse("gallery")).content.decode()
    assert 'data-direct-upload="1"' not in page


@pytest.mark.django_db
def test_the_presigned_post_is_for_one_key_under_the_users_prefix_within_the_size_limit(
    signed_in_client, user, s3_media, settings
):
    presigned = presign(signed_in_client, "../../My Holiday <1>.jpg")

    key = presigned["key"]
    prefix, owner, random, name = key.split("/")
    assert (prefix, owner, len(random), name) == ("uploads", str(user.pk), 32, "My-Holiday-1-.jpg")
    assert presigned["fields"]["key"] == key
    policy = json.loads(__import__("base64").b64decode(presigned["fields"]["policy"]))
    assert ["content-length-range", 1, settings.MAX_UPLOAD_BYTES] in policy["conditions"]
    assert 'data-direct-upload="1"' in signed_in_client.get(reverse("gallery")).content.decode()


@pytest.mark.django_db
def test_a_jpeg_goes_to_the_bucket_and_completing_it_queues_an_image_that_becomes_ready(
    signed_in_client, user, s3_media, s3_client, django_capture_on_commit_callbacks
):
    key = upload_directly(signed_in_client, images.jpeg_bytes(1200, 900))
    assert object_keys(s3_client) == [key]

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = complete(signed_in_client, key)

    assert response.status_code == 201, response.content
    assert len(callbacks) == 1  # the job, queued once the row committed
    image = Image.objects.get(owner=user)
    assert (image.original.name, image.original_name, image.status) == (key, "holiday.jpg", Image.Status.PENDING)
    with django_capture_on_commit_callbacks(execute=True):
        jobs.make_thumbnails(image.id)
    image.refresh_from_db()
    assert image.status == Image.Status.READY, image.failure_reason
    assert (image.width, image.height) == (1200, 900)
    assert image.thumbnails.count() == 3
    # The original is discarded as after any upload (KEEP_ORIGINAL_UPLOADS is off).
    assert not object_exists(s3_client, key)
    thumb = image.thumbnails.get(size=400)
    served = signed_in_client.get(reverse("media", args=[thumb.file.name]))
    assert (served.status_code, served["Content-Type"]) == (200, "image/webp")


@pytest.mark.django_db
def test_a_file_over_the_limit_is_refused_by_the_bucket_and_by_the_site_if_the_bucket_lets_it_in(
    signed_in_client, user, s3_media, s3_client, settings
):
    settings.MAX_UPLOAD_BYTES = 50_000
    presigned = presign(signed_in_client)

    response = post_to_bucket(presigned, b"\xff" * 50_001)

    if ON_LOCALSTACK:
        # As S3 does: the policy's content-length-range (checked above) refuses it, nothing stored.
        assert response.status_code == 400, response.text
        assert "<Code>EntityTooLarge</Code>" in response.text
        completed = complete(signed_in_client, presigned["key"])
        assert (completed.status_code, completed.json()) == (
            400,
            {"errors": ["That upload did not reach the bucket; please try again."]},
        )
    else:
        # moto's behaviour, not S3's: moto 5.2.5 evaluates no POST policy and stores the file.
        # The site is the second line: complete refuses the object and deletes it.
        assert response.status_code == 204, response.text
        completed = complete(signed_in_client, presigned["key"])
        assert (completed.status_code, completed.json()) == (
            400,
            {"errors": ["The file must be between 1 byte and 50000 bytes."]},
        )
    assert object_keys(s3_client) == []
    assert not Image.objects.exists()


@needs_localstack
@pytest.mark.django_db
def test_the_bucket_refuses_a_key_other_than_the_policys(
    signed_in_client, user, s3_media, s3_client, django_user_model
):
    other = django_user_model.objects.create_user(email="bo@example.com", password="b-long-passphrase-42")
    presigned = presign(signed_in_client)
    jpeg = images.jpeg_bytes(100, 100)
    elsewhere = [
        f"uploads/{other.pk}/{'a' * 32}/theirs.jpg",  # someone else's prefix
        f"uploads/{user.pk}/{'b' * 32}/holiday.jpg",  # one's own prefix, but not this form's key
        f"thumbnails/{user.pk}/abc-400.webp",  # what the site serves
    ]

    for key in elsewhere:
        response = post_to_bucket({**presigned, "fields": {**presigned["fields"], "key": key}}, jpeg)
        assert response.status_code == 403, (key, response.text)
        assert "<Code>AccessDenied</Code>" in response.text
        assert "Policy Condition failed" in response.text

    assert object_keys(s3_client) == []
    # The form is still good for its own key.
    assert post_to_bucket(presigned, jpeg).status_code == 204
    assert object_keys(s3_client) == [presigned["key"]]


def presign_at(client, moment: datetime) -> dict:
    """A presigned POST as the site would have made it at `moment` (botocore's clock moved)."""
    with (
        mock.patch("botocore.signers.get_current_datetime", return_value=moment),
        mock.patch("botocore.auth.get_current_datetime", return_value=moment),
    ):
        return presign(client)


@needs_localstack
@pytest.mark.django_db
def test_the_bucket_refuses_a_policy_older_than_ten_minutes(signed_in_client, user, s3_media, s3_client):
    assert direct_upload.PRESIGN_EXPIRES_SECONDS == 600
    now = datetime.now(UTC).replace(tzinfo=None)  # botocore's clock is naive UTC
    jpeg = images.jpeg_bytes(100, 100)
    expired = presign_at(signed_in_client, now - timedelta(minutes=11))
    recent = presign_at(signed_in_client, now - timedelta(minutes=9))

    response = post_to_bucket(expired, jpeg)

    assert response.status_code == 403, response.text
    assert "<Code>AccessDenied</Code>" in response.text
    assert "Policy expired" in response.text
    assert object_keys(s3_client) == []
    assert post_to_bucket(recent, jpeg).status_code == 204
    assert object_keys(s3_client) == [recent["key"]]


def preflight(url: str, origin: str) -> requests.Response:
    """What a browser asks before the gallery's POST (an XHR that listens to upload progress)."""
    headers = {"Origin": origin, "Access-Control-Request-Method": "POST"}
    return requests.options(url, headers=headers, timeout=30)


@needs_localstack
@pytest.mark.django_db
def test_the_bucket_answers_the_sites_preflight_and_refuses_another_origins(
    signed_in_client, user, s3_media, s3_client
):
    site, other = "https://photos.herokuapp.com", "https://elsewhere.example"
    call_command("s3_cors", "--origin", f"{site}/")
    presigned = presign(signed_in_client)

    allowed = preflight(presigned["url"], site)
    refused = preflight(presigned["url"], other)

    assert allowed.status_code == 200, allowed.text
    assert allowed.headers["Access-Control-Allow-Origin"] == site
    assert "POST" in allowed.headers["Access-Control-Allow-Methods"]
    assert refused.status_code == 403, refused.text
    assert "Access-Control-Allow-Origin" not in refused.headers
    # CORS is not what limits a POST from another origin: a plain form POST needs no preflight,
    # and the bucket takes it if the policy allows (one key, the size range, ten minutes). CORS
    # only keeps that page from reading the answer: no Access-Control-Allow-Origin for it.
    jpeg = images.jpeg_bytes(100, 100)
    posted = requests.post(
        presigned["url"],
        data=presigned["fields"],
        files={"file": ("holiday.jpg", io.BytesIO(jpeg))},
        headers={"Origin": other},
        timeout=30,
    )
    assert posted.status_code == 204, posted.text
    assert "Access-Control-Allow-Origin" not in posted.headers
    assert object_keys(s3_client) == [presigned["key"]]


@pytest.mark.django_db
def test_a_key_outside_the_users_prefix_or_someone_elses_is_refused(
    signed_in_client, user, s3_media, s3_client, django_user_model
):
    other = django_user_model.objects.create_user(email="bo@example.com", password="b-long-passphrase-42")
    theirs = f"uploads/{other.pk}/{'a' * 32}/theirs.jpg"
    s3_client.put_object(Bucket=BUCKET, Key=theirs, Body=images.jpeg_bytes(100, 100))
    outside = "originals/1/abc"
    s3_client.put_object(Bucket=BUCKET, Key=outside, Body=b"x")

    for key in (theirs, outside, f"uploads/{user.pk}/../{other.pk}/x.jpg", f"uploads/{user.pk}x/a/b.jpg"):
        response = complete(signed_in_client, key)
        assert response.status_code == 400, key
        assert response.json() == {"errors": ["That upload is not one of yours."]}
    assert not Image.objects.exists()


@pytest.mark.django_db
def test_a_key_never_uploaded_or_already_recorded_is_refused(signed_in_client, user, s3_media):
    missing = presign(signed_in_client)["key"]
    assert complete(signed_in_client, missing).json() == {
        "errors": ["That upload did not reach the bucket; please try again."]
    }

    key = upload_directly(signed_in_client, images.jpeg_bytes(100, 100))
    assert complete(signed_in_client, key).status_code == 201
    again = complete(signed_in_client, key)
    assert (again.status_code, again.json()) == (400, {"errors": ["That upload is already in your gallery."]})
    assert Image.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_completing_one_key_twice_at_once_records_it_once_and_queues_one_job(client, user, s3_media):
    """Two completes of one key (a retried request, two tabs) racing on two database connections.

    Whatever the timing, the database's unique constraint on the key lets one insert commit and
    rolls the other back with the job it would have queued: one row, one job, and the loser is
    told the upload is already in the gallery rather than getting a 500.
    """
    from django.db import connections
    from django.test import Client

    from queues import redis_client

    # A second browser arriving as the first does (over HTTPS, per the client fixture).
    clients = [client, Client(**client.defaults)]
    for each in clients:
        each.force_login(user)
    key = upload_directly(clients[0], images.jpeg_bytes(100, 100))
    start = threading.Barrier(len(clients))
    answers: list[tuple[int, dict]] = []
    failures: list[BaseException] = []

    def finish(client) -> None:
        try:
            start.wait(timeout=30)
            response = complete(client, key)
            answers.append((response.status_code, response.json()))
        except BaseException as error:  # reported by the main thread
            failures.append(error)
        finally:
            # Each thread has its own database connection; a test database is dropped with none open.
            connections.close_all()

    threads = [threading.Thread(target=finish, args=(each,)) for each in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not failures, failures
    assert sorted(status for status, _ in answers) == [201, 400], answers
    assert [body for status, body in answers if status == 400] == [
        {"errors": ["That upload is already in your gallery."]}
    ]
    [image] = Image.objects.all()
    assert image.original.name == key
    assert redis_client.queue("default").job_ids == [claims.kind_of(Image).job_id(image.pk)]


@pytest.mark.django_db
def test_an_unconfirmed_person_gets_no_presigned_post(client, unconfirmed, s3_media):
    assert client.post(reverse("upload_presign"), {"name": "a.jpg"}).status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "make"), HOSTILE)
def test_a_hostile_file_uploaded_directly_ends_failed_with_the_requests_words_and_nothing_served(
    signed_in_client, user, s3_media, s3_client, django_capture_on_commit_callbacks, name, make
):
    data = make()
    # The words the upload through the site would have answered with for the same bytes.
    with pytest.raises(upload_checks.UnreadableImage) as refused_in_the_request:
        upload_checks.inspect_image(io.BytesIO(data))
    key = upload_directly(signed_in_client, data, name)
    with django_capture_on_commit_callbacks(execute=True):
        assert complete(signed_in_client, key).status_code == 201
    image = Image.objects.get(owner=user)

    with django_capture_on_commit_callbacks(execute=True):
        jobs.make_thumbnails(image.id)

    image.refresh_from_db()
    assert image.status == Image.Status.FAILED
    assert image.failure_reason == str(refused_in_the_request.value)
    assert not image.thumbnails.exists()
    # The unchecked object is gone from the bucket and the row no longer names it.
    assert object_keys(s3_client) == []
    assert image.original.name == ""
    assert signed_in_client.get(reverse("media", args=[key])).status_code == 404
    page = signed_in_client.get(reverse("gallery")).content.decode()
    # No bucket URL of any kind, and the card says why.
    assert key not in page
    assert "X-Amz-Signature" not in page
    assert "Signature=" not in page
    assert html.escape(image.failure_reason) in page


@pytest.mark.django_db
def test_the_clean_up_deletes_only_an_old_object_no_image_names(
    signed_in_client, user, s3_media, s3_client, settings, monkeypatch
):
    recorded = upload_directly(signed_in_client, images.jpeg_bytes(100, 100))
    assert complete(signed_in_client, recorded).status_code == 201
    orphan = upload_directly(signed_in_client, images.jpeg_bytes(100, 100), "closed-tab.jpg")
    thumbnail = f"thumbnails/{user.pk}/abc-400.webp"
    s3_client.put_object(Bucket=BUCKET, Key=thumbnail, Body=b"RIFF")
    settings.DIRECT_UPLOAD_GRACE_HOURS = 24

    # Within the grace period nothing goes: the tab may still complete it.
    assert jobs.delete_orphan_uploads() == 0
    # A day and a minute later (the server stamps objects with the real time, so the clock moves instead).
    later = timezone.now() + timedelta(hours=24, minutes=1)
    monkeypatch.setattr(direct_upload.timezone, "now", lambda: later)

    assert jobs.delete_orphan_uploads() == 1

    assert object_keys(s3_client) == sorted([recorded, thumbnail])
    assert not object_exists(s3_client, orphan)


def test_the_clean_up_is_on_the_schedule_and_does_nothing_without_a_bucket(db):
    from scheduling import schedule

    entry = next(entry for entry in schedule.entries() if entry.name == "delete_orphan_uploads")
    assert (entry.queue_name, entry.cron) == ("low", "41 * * * *")
    assert jobs.delete_orphan_uploads() == 0


@pytest.mark.django_db
def test_the_cors_command_lets_the_sites_origin_post_to_the_bucket(s3_media, s3_client, capsys):
    call_command("s3_cors", "--origin", "https://photos.herokuapp.com/")

    [rule] = s3_client.get_bucket_cors(Bucket=BUCKET)["CORSRules"]
    assert (rule["AllowedOrigins"], rule["AllowedMethods"]) == (["https://photos.herokuapp.com"], ["POST"])
    assert "answers the uploads of pages from https://photos.herokuapp.com" in capsys.readouterr().out
    with pytest.raises(CommandError, match="not an origin"):
        call_command("s3_cors", "--origin", "photos.herokuapp.com/path")


def test_the_cors_command_needs_a_bucket():
    with pytest.raises(CommandError, match="No bucket"):
        call_command("s3_cors", "--origin", "https://photos.herokuapp.com")
