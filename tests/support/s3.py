"""The S3-protocol server the storage tests talk to (moto, or LocalStack with S3_TEST_SERVER=localstack),
and what a test may ask of its bucket. The fixtures that start it are in the top conftest.py."""

from __future__ import annotations

import secrets
import urllib.request

from botocore.exceptions import ClientError

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


def reset_moto(endpoint: str) -> None:
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")  # noqa: S310 - local moto
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - the local moto server
        assert response.status == 200


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
