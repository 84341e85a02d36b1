from __future__ import annotations

from django.db import models


class StoredFile(models.Model):
    """File bytes kept in the database, so every dyno sees every file and restarts lose nothing."""

    name = models.CharField(max_length=255, unique=True)
    content = models.BinaryField()
    size = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name
