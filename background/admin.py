from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from background import services
from background.models import OutgoingEmail


@admin.register(OutgoingEmail)
class OutgoingEmailAdmin(admin.ModelAdmin):
    list_display = ["id", "to", "subject", "status", "attempts", "created_at", "sent_at"]
    list_filter = ["status"]
    search_fields = ["to", "subject"]
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
    exclude = ["claim_token"]
    actions = ["send_again"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Send again (failed or unconfirmed emails)")
    def send_again(self, request: HttpRequest, queryset: QuerySet[OutgoingEmail]) -> None:
        results = [services.email_send_again(email=email) for email in queryset]
        self.message_user(request, f"Queued {sum(results)} emails to be sent again.", messages.SUCCESS)
        if not all(results):
            skipped = results.count(False)
            self.message_user(
                request, f"Skipped {skipped}: only failed or unconfirmed emails are sent again.", messages.WARNING
            )
