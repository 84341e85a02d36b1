"""A Django Storage that keeps files in the database (the StoredFile table).

Heroku dynos share no disk and lose theirs on restart; the database is the one store every
dyno already has, so uploads work right after the deploy button with nothing to configure.
Writes join the caller's transaction: a rolled-back upload leaves no file behind.
"""

from __future__ import annotations

import posixpath
from datetime import datetime
from typing import IO
from urllib.parse import urljoin

from django.conf import settings
from django.core.files.base import ContentFile, File
from django.core.files.storage import Storage
from django.db import IntegrityError, transaction
from django.utils.deconstruct import deconstructible
from django.utils.encoding import filepath_to_uri

from media_tasks.models import StoredFile


@deconstructible
class DatabaseStorage(Storage):
    def __init__(self, base_url: str | None = None) -> None:
        self.base_url = base_url or settings.MEDIA_URL

    def _open(self, name: str, mode: str = "rb") -> File:
        if "w" in mode or "a" in mode or "+" in mode:
            raise ValueError("DatabaseStorage files are read-only once saved; save a new file instead.")
        content = StoredFile.objects.filter(name=name).values_list("content", flat=True).first()
        if content is None:
            raise FileNotFoundError(f"No stored file named {name!r}")
        return ContentFile(bytes(content), name=name)

    def _save(self, name: str, content: IO[bytes] | File) -> str:
        if hasattr(content, "seek"):
            content.seek(0)
        data = content.read()
        for _ in range(10):
            try:
                with transaction.atomic():
                    StoredFile.objects.create(name=name, content=data, size=len(data))
                return name
            except IntegrityError:
                # Another process took the name between get_available_name() and now.
                name = self.get_alternative_name(*posixpath.splitext(name))
        raise FileExistsError(f"Could not find a free name for {name!r}")

    def delete(self, name: str) -> None:
        StoredFile.objects.filter(name=name).delete()

    def exists(self, name: str) -> bool:
        return StoredFile.objects.filter(name=name).exists()

    def size(self, name: str) -> int:
        size = StoredFile.objects.filter(name=name).values_list("size", flat=True).first()
        if size is None:
            raise FileNotFoundError(f"No stored file named {name!r}")
        return size

    def url(self, name: str | None) -> str:
        return urljoin(self.base_url, filepath_to_uri(name or ""))

    def get_created_time(self, name: str) -> datetime:
        created = StoredFile.objects.filter(name=name).values_list("created_at", flat=True).first()
        if created is None:
            raise FileNotFoundError(f"No stored file named {name!r}")
        return created

    get_modified_time = get_created_time

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        prefix = path.rstrip("/") + "/" if path else ""
        directories: set[str] = set()
        files: list[str] = []
        for name in StoredFile.objects.filter(name__startswith=prefix).values_list("name", flat=True):
            head, sep, _ = name[len(prefix) :].partition("/")
            if sep:
                directories.add(head)
            else:
                files.append(head)
        return sorted(directories), sorted(files)
