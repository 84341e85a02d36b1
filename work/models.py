"""Durable work rows: the base every kind of durable background work inherits."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from django.db import models


class WorkItem(models.Model):
    """A unit of background work with a durable status, so nothing is lost with a job.

    A model becomes durable work by inheriting this and declaring its job in a nested
    `class Work:` (see work/claims.py, WorkDeclaration, for every attribute). The sweeper
    finds every such model by itself.

    A job claims the row (status → in progress, a fresh token, a timestamp) with a conditional
    UPDATE; the claim lapses after WORK_CLAIM_LEASE_SECONDS, so a row left behind by a killed
    worker is picked up again by the sweeper.
    """

    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    claim_token = models.CharField(max_length=32, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Declared by each concrete subclass: its job, queue, statuses and retry schedule.
    Work: ClassVar[type[Any]]

    if TYPE_CHECKING:
        # Declared by each concrete subclass with its own choices.
        status: str

    class Meta:
        abstract = True
