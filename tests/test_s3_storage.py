"""Media on S3, against a real S3-protocol server spoken to over HTTP: moto in server mode, or
LocalStack's S3 with S3_TEST_SERVER=localstack (tests/support/localstack.py says which does what).

Nothing here patches boto3: the web side (this process), the worker (its own process) and the
browser (urllib) all reach the same server on 127.0.0.1, as they would reach S3.
"""

from __future__ import annotations

import os
import runpy
import secrets
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from unittest import mock

import boto3
import pytest
from botocore.exceptions import ClientError
from django.core.files.storage import default_storage
from moto.server import ThreadedMotoServer
from storages.backends.s3 import S3Storage

from tests.conftest import ROOT
from tests.support import localstack

# "moto" or "localstack" (S3_TEST_SERVER): what a test may expect of the bucket depends on it.
S3_SERVER = localstack.selected_server()
ON_LOCALSTACK = S3_SERVER == "localstack"
# LocalStack keeps each bucket's objects in /tmp/localstack-s3-storage/<bucket>, one folder for
# every LocalStack on the machine: each pytest process names its bucket apart.
BUCKET = f"media-tests-{secrets.token_hex(4)}" if ON_LOCALSTACK else "media-tests"
REGION = "us-east-1"
ACCESS_KEY = "testing-access-key"
SECRET_KEY = "testing-secret-key"
JPEG_START = b"\xff\xd8\xff"


@pytest.fixture(scope="session")
def localstack_endpoint() -> Iterator[str]:
    """LocalStack's S3 as its own process, one per pytest process (each xdist worker has its own)."""
    with localstack.localstack_s3() as endpoint:
        yield endpoint


@pytest.fixture
def s3_endpoint(request: pytest.FixtureRequest) -> Iterator[str]:
    """The S3 server's endpoint, with no bucket at the start and end of each test.

    moto: a server on a free port of 127.0.0.1 (port 0: the OS picks one) for each test.
    LocalStack: this pytest process's server, emptied (it has no reset).
    """
    if ON_LOCALSTACK:
        endpoint = request.getfixturevalue("localstack_endpoint")
        localstack.empty(endpoint)
        try:
            yield endpoint
        finally:
            localstack.empty(endpoint)
        return
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    # moto keeps its buckets per process, not per server: start and leave every test with none.
    reset_moto(endpoint)
    try:
        yield endpoint
    finally:
        reset_moto(endpoint)
        server.stop()


def reset_moto(endpoint: str) -> None:
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")  # noqa: S310 - local moto
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - the local moto server
        assert response.status == 200


@pytest.fixture
def s3_client(s3_endpoint: str):
    return boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )


@pytest.fixture
def bucket(s3_client) -> str:
    s3_client.create_bucket(Bucket=BUCKET)
    return BUCKET


@pytest.fixture
def s3_env(s3_endpoint: str, bucket: str) -> dict[str, str]:
    """The config vars a deploy would set to store media in this bucket."""
    return {
        "AWS_STORAGE_BUCKET_NAME": bucket,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_S3_REGION_NAME": REGION,
        "AWS_S3_ENDPOINT_URL": s3_endpoint,
    }


@pytest.fixture
def s3_media(settings, s3_env: dict[str, str], s3_endpoint: str) -> S3Storage:
    """This process stores media in the bucket, with the storage project/settings.py builds from s3_env."""
    # Run the real settings module with those variables (os.environ is restored afterwards),
    # so the OPTIONS used here are exactly the ones a deploy gets.
    with mock.patch.dict(os.environ, {**s3_env, "DJANGO_ENV_FILE": os.devnull}):
        built = runpy.run_path(str(ROOT / "project" / "settings.py"))["STORAGES"]["default"]
    assert built["BACKEND"] == "storages.backends.s3.S3Storage"
    settings.STORAGES = {**settings.STORAGES, "default": built}

    # setting_changed resets the cached storages, so default_storage is now the S3 one.
    default_storage.bucket_name  # noqa: B018 - evaluates the lazy object
    storage = default_storage._wrapped
    assert type(storage) is S3Storage
    assert (storage.bucket_name, storage.endpoint_url) == (BUCKET, s3_endpoint)
    return storage


def object_keys(s3_client, prefix: str = "") -> list[str]:
    listing = s3_client.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return sorted(item["Key"] for item in listing.get("Contents", []))


def object_exists(s3_client, key: str) -> bool:
    try:
        s3_client.head_object(Bucket=BUCKET, Key=key)
    except ClientError as error:
        if error.response["Error"]["Code"] in {"404", "NoSuchKey"}:
            return False
        raise
    return True


def test_bucketeer_variables_alone_select_the_s3_storage():
    # A fresh deploy's environment: none of the project's variables, no local .env.
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DATABASE_", "REDIS_", "AWS_", "BUCKETEER_", "MEDIA_"))
    }
    env.update(
        DJANGO_SECRET_KEY="x" * 50,
        DJANGO_ENV_FILE=os.devnull,
        BUCKETEER_BUCKET_NAME="bucketeer-abc123",
        BUCKETEER_AWS_ACCESS_KEY_ID="bucketeer-access-key",
        BUCKETEER_AWS_SECRET_ACCESS_KEY="bucketeer-secret-key",
        BUCKETEER_AWS_REGION="eu-west-1",
    )
    code = (
        "from django.core.files.storage import default_storage as s; s._setup(); w = s._wrapped;"
        "print(f'{type(w).__module__}.{type(w).__qualname__}', w.bucket_name, w.access_key, w.region_name)"
    )

    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "storages.backends.s3.S3Storage",
        "bucketeer-abc123",
        "bucketeer-access-key",
        "eu-west-1",
    ]
