"""Media storage that works across dynos: the database by default."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction

from files.models import StoredFile
from files.storage import DatabaseStorage

pytestmark = pytest.mark.django_db


def test_default_storage_is_the_database():
    assert isinstance(default_storage, DatabaseStorage)


def test_saved_file_reads_back_byte_for_byte():
    name = default_storage.save("reports/1/abc-400.jpg", ContentFile(b"\xff\xd8 bytes"))

    assert default_storage.exists(name)
    assert default_storage.size(name) == 8
    with default_storage.open(name) as f:
        assert f.read() == b"\xff\xd8 bytes"
    assert default_storage.url(name) == "/media/reports/1/abc-400.jpg"


def test_saving_an_existing_name_keeps_both_files():
    first = default_storage.save("a/b.jpg", ContentFile(b"one"))
    second = default_storage.save("a/b.jpg", ContentFile(b"two"))

    assert first != second
    assert default_storage.open(first).read() == b"one"
    assert default_storage.open(second).read() == b"two"


def test_a_name_taken_between_checking_and_saving_gets_another_and_loses_neither_file():
    # Two dynos saving the same name at once: both pass get_available_name(), one insert collides.
    storage = DatabaseStorage()
    every_byte = bytes(range(256)) * 4096

    with transaction.atomic():
        first = storage._save("race/photo.jpg", ContentFile(every_byte))
        second = storage._save("race/photo.jpg", ContentFile(b"second"))

    assert first == "race/photo.jpg" and second != first
    assert storage.open(first).read() == every_byte
    assert storage.open(second).read() == b"second"


def test_missing_file_raises_file_not_found():
    with pytest.raises(FileNotFoundError):
        default_storage.open("nope.jpg")
    with pytest.raises(FileNotFoundError):
        default_storage.size("nope.jpg")


def test_deleted_file_is_gone():
    name = default_storage.save("gone.jpg", ContentFile(b"x"))

    default_storage.delete(name)

    assert not default_storage.exists(name)


def test_a_rolled_back_transaction_leaves_no_file():
    with pytest.raises(RuntimeError), transaction.atomic():
        default_storage.save("rolled-back.jpg", ContentFile(b"x"))
        raise RuntimeError

    assert not StoredFile.objects.filter(name__startswith="rolled-back").exists()


def test_listdir_separates_folders_from_files():
    default_storage.save("thumbs/1/a.jpg", ContentFile(b"x"))
    default_storage.save("thumbs/2/b.jpg", ContentFile(b"x"))
    default_storage.save("thumbs/c.jpg", ContentFile(b"x"))

    assert default_storage.listdir("thumbs") == (["1", "2"], ["c.jpg"])
