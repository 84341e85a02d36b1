"""A Django Storage that keeps files in the database (the StoredFile table).

Heroku dynos share no disk and lose theirs on restart; the database is the one store every
dyno already has, so uploads work right after the deploy button with nothing to configure.
Writes join the caller's transaction: a rolled-back upload leaves no file behind.

On PostgreSQL the bytes travel as binary parameters and results. Django's psycopg backend
binds parameters client-side, which sends a file as hex text twice its size that the server
then parses: measured 56 ms to insert a 3.2 MB photo that way, 9 ms as a binary parameter.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import IO, TYPE_CHECKING
from urllib.parse import urljoin

from django.conf import settings
from django.core.files.base import ContentFile, File
from django.core.files.storage import Storage
from django.db import IntegrityError, connection, transaction
from django.utils.deconstruct import deconstructible
from django.utils.encoding import filepath_to_uri

from files.models import StoredFile

if TYPE_CHECKING:
    import psycopg
    import psycopg.sql


@deconstructible
class DatabaseStorage(Storage):
    def __init__(self, base_url: str | None = None) -> None:
        self.base_url = base_url or settings.MEDIA_URL

    def _open(self, name: str, mode: str = "rb") -> File[bytes]:
        if "w" in mode or "a" in mode or "+" in mode:
            raise ValueError("DatabaseStorage files are read-only once saved; save a new file instead.")
        content: bytes | memoryview | None
        if connection.vendor == "postgresql":
            content = _postgres_content(name)
        else:
            content = StoredFile.objects.filter(name=name).values_list("content", flat=True).first()
        if content is None:
            raise FileNotFoundError(f"No stored file named {name!r}")
        return ContentFile(bytes(content), name=name)

    def _save(self, name: str, content: IO[bytes] | File[bytes]) -> str:
        if hasattr(content, "seek"):
            content.seek(0)
        data = content.read()
        for _ in range(10):
            try:
                with transaction.atomic():
                    if connection.vendor == "postgresql":
                        _postgres_insert(name, data)
                    else:
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


@contextmanager
def _binary_cursor() -> Iterator[psycopg.Cursor]:
    import psycopg  # only installed where PostgreSQL is used

    connection.ensure_connection()
    # A server-side-binding cursor on Django's own connection, so it joins the open transaction;
    # its errors become Django's (IntegrityError for a taken name) as the ORM's would.
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        yield cursor


def _statement(template: str) -> psycopg.sql.Composed:
    """The SQL with StoredFile's table for {table}, quoted as an identifier; values stay parameters."""
    from psycopg import sql

    return sql.SQL(template).format(table=sql.Identifier(StoredFile._meta.db_table))


def _postgres_insert(name: str, data: bytes) -> None:
    with _binary_cursor() as cursor:
        cursor.execute(
            _statement("INSERT INTO {table} (name, content, size, created_at) VALUES (%s, %b, %s, now())"),
            (name, data, len(data)),
        )


def _postgres_content(name: str) -> bytes | None:
    with _binary_cursor() as cursor:
        row = cursor.execute(_statement("SELECT content FROM {table} WHERE name = %s"), (name,), binary=True).fetchone()
    return None if row is None else row[0]
