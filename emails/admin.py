"""The outbox's admin: every email, its status, and "send again" for failed or unconfirmed ones."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from emails import services
from emails.models import OutgoingEmail
from work.admin import WorkItemAdmin


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
