"""Let the site's pages read the bucket's answers to their uploads: its CORS rule, set with boto3.

What limits who may POST to the bucket is each upload's presigned policy (one key, the size
range, ten minutes); CORS decides which pages may send the gallery's preflighted request and
read the answer.
"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any
from urllib.parse import urlsplit

from django.core.management.base import BaseCommand, CommandError

from media_tasks import direct_upload


class Command(BaseCommand):
    help = "Set the media bucket's CORS rule so the gallery's uploads from these origins' pages pass their preflight."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--origin",
            action="append",
            required=True,
            help="The site's origin, e.g. https://<app>.herokuapp.com (repeat for several).",
        )

    def handle(self, *args: Any, origin: list[str], **options: Any) -> None:
        storage = direct_upload.direct_upload_storage()
        if storage is None:
            raise CommandError("No bucket is configured (AWS_STORAGE_BUCKET_NAME or BUCKETEER_BUCKET_NAME).")
        for value in origin:
            parts = urlsplit(value)
            # A browser sends exactly scheme://host[:port]; anything more never matches.
            if parts.scheme not in {"http", "https"} or not parts.netloc or parts.path not in {"", "/"}:
                raise CommandError(f"{value!r} is not an origin like https://example.herokuapp.com")
        origins = [value.rstrip("/") for value in origin]
        direct_upload.bucket_cors_set(storage=storage, origins=origins)
        self.stdout.write(f"Bucket {storage.bucket_name} answers the uploads of pages from {', '.join(origins)}.")
