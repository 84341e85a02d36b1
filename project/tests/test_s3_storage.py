"""Media on S3 when Bucketeer's config vars alone are set, as the add-on sets them.

The S3-protocol server the demo's storage tests talk to (moto, or LocalStack) is started by the
fixtures in conftest.py at the top (tests/support/s3.py: its bucket and credentials).
"""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support.processes import ROOT


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
