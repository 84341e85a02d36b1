"""The admin base of every durable-work model."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin

# django-stubs makes ModelAdmin generic; Django's own class cannot be subscripted at run time.
if TYPE_CHECKING:
    ModelAdminBase = admin.ModelAdmin[Any]
else:
    ModelAdminBase = admin.ModelAdmin


class WorkItemAdmin(ModelAdminBase):
    """The admin of a durable-work model (work.models.WorkItem): its claim is the jobs' business.

    The claim token is left out of the form; a remedy resets the row through the kind's
    services (claims.reset), not by editing it.
    """

    exclude = ["claim_token"]
