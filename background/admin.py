"""The admin of the background app: the email outbox, and the schedule's page (staff only)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, URLResolver, path, reverse
from redis.exceptions import RedisError

from background import queues, scheduler, services
from background.models import OutgoingEmail

# django-stubs makes ModelAdmin generic; Django's own class cannot be subscripted at run time.
if TYPE_CHECKING:
    ModelAdminBase = admin.ModelAdmin[Any]
else:
    ModelAdminBase = admin.ModelAdmin


class WorkItemAdmin(ModelAdminBase):
    """The admin of a durable-work model (background.models.WorkItem): its claim is the jobs' business.

    The claim token is left out of the form; a remedy resets the row through the kind's
    services (work.reset), not by editing it.
    """

    exclude = ["claim_token"]


@admin.register(OutgoingEmail)
class OutgoingEmailAdmin(WorkItemAdmin):
    list_display = ["id", "recipients_shown", "subject", "status", "attempts", "created_at", "sent_at"]
    list_filter = ["status"]
    # `to` holds only the first recipient; `recipients` (JSON) holds every address, so the
    # search reaches an admin report's second addressee or a Cc too.
    search_fields = ["to", "recipients", "subject"]
    readonly_fields = [
        *(
            "from_email",
            "to",
            "recipients",
            "headers",
            "subject",
            "body",
            "status",
            "attempts",
            "unconfirmed_sends",
            "last_error",
        ),
        *("claimed_at", "created_at", "updated_at", "sent_at"),
    ]
    actions = ["send_again"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="To", ordering="to")
    def recipients_shown(self, email: OutgoingEmail) -> str:
        """Every addressee (To, then Cc and Bcc marked), not only the first, which `to` keeps."""
        recipients = email.recipients or {"to": [email.to]}
        shown = list(recipients.get("to") or [])
        shown += [f"Cc: {address}" for address in recipients.get("cc") or []]
        shown += [f"Bcc: {address}" for address in recipients.get("bcc") or []]
        return ", ".join(shown) or email.to

    @admin.action(description="Send again (failed or unconfirmed emails)")
    def send_again(self, request: HttpRequest, queryset: QuerySet[OutgoingEmail]) -> None:
        results = [services.email_send_again(email=email) for email in queryset]
        self.message_user(request, f"Queued {sum(results)} emails to be sent again.", messages.SUCCESS)
        if not all(results):
            skipped = results.count(False)
            self.message_user(
                request, f"Skipped {skipped}: only failed or unconfirmed emails are sent again.", messages.WARNING
            )


# --- The schedule: a staff page without a model ------------------------------------------
#
# The schedule lives in code and Redis, not in a table, so there is no ModelAdmin to hang it
# on (and a model would need a migration for nothing). The admin site is given one more URL,
# and its index one more row in this app's box, pointing to it.


def schedule_view(request: HttpRequest) -> HttpResponse:
    """Each recurring job, its next run, its last run and that run's outcome, and the lease holder."""
    context: dict[str, Any] = {**admin.site.each_context(request), "title": "Schedule"}
    try:
        connection = queues.connection()
        holder = scheduler.lease_holder(connection)
        entries = scheduler.statuses(connection)
    except RedisError as error:
        context["error"] = type(error).__name__
        return TemplateResponse(request, "background/schedule.html", context, status=503)
    now = time.time()
    context["holder"] = holder
    context["ticked_ago"] = round(now - holder["ticked_at"], 1) if holder and holder.get("ticked_at") else None
    context["entries"] = [
        {
            **vars(entry),
            "next_run": _utc(entry.next_run),
            "last_run": _utc(entry.last_slot),
            "last_enqueued": _utc(entry.last_enqueued_at),
        }
        for entry in entries
    ]
    return TemplateResponse(request, "background/schedule.html", context)


def _utc(timestamp: float | None) -> datetime | None:
    return datetime.fromtimestamp(timestamp, tz=UTC) if timestamp is not None else None


_site_get_urls = admin.site.get_urls
_site_get_app_list = admin.site.get_app_list


def _get_urls() -> list[URLPattern | URLResolver]:
    schedule = path("background/schedule/", admin.site.admin_view(schedule_view), name="background_schedule")
    return [schedule, *_site_get_urls()]


def _get_app_list(request: HttpRequest, app_label: str | None = None) -> list[Any]:
    app_list = _site_get_app_list(request, app_label)
    if app_label not in (None, "background"):
        return app_list
    schedule = {
        "name": "Schedule",
        "object_name": "Schedule",
        "perms": {"view": True},
        "admin_url": reverse("admin:background_schedule"),
        "add_url": None,
        "view_only": True,
    }
    for app in app_list:
        if app["app_label"] == "background":
            app["models"].append(schedule)
            return app_list
    # A staff member with no permission on the outbox still sees the schedule (read-only).
    url = reverse("admin:background_schedule")
    background = {"name": "Background work", "app_label": "background", "app_url": url, "has_module_perms": True}
    return [*app_list, {**background, "models": [schedule]}]


admin.site.get_urls = _get_urls  # type: ignore[method-assign]
admin.site.get_app_list = _get_app_list  # type: ignore[method-assign]
