from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest

from media_tasks import services
from media_tasks.models import Image, OutgoingEmail, Thumbnail, User


class RefuseNulInFilters(admin.ModelAdmin):
    """A change list's filters go into queries as given; PostgreSQL refuses text with a NUL byte (a 500)."""

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        if any("\x00" in key + "".join(values) for key, values in request.GET.lists()):
            return HttpResponseBadRequest("A filter holds a NUL byte.")
        return super().changelist_view(request, extra_context)


@admin.register(User)
class UserAdmin(RefuseNulInFilters, DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "email_confirmed_at", "is_staff", "date_joined"]
    list_filter = ["is_staff", "is_superuser", "is_active"]
    search_fields = ["email"]
    readonly_fields = ["date_joined", "last_login"]
    fieldsets = [
        (None, {"fields": ["email", "password", "email_confirmed_at"]}),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]}),
        ("Dates", {"fields": ["date_joined", "last_login"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]


class ThumbnailInline(admin.TabularInline):
    model = Thumbnail
    extra = 0
    readonly_fields = ["size", "width", "height", "file"]
    can_delete = False


@admin.register(Image)
class ImageAdmin(RefuseNulInFilters):
    list_display = ["id", "original_name", "owner", "status", "attempts", "created_at"]
    list_filter = ["status", ("owner", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["original_name", "owner__email"]
    list_select_related = ["owner"]
    readonly_fields = [
        *("token", "original", "width", "height", "status", "failure_reason", "attempts", "last_error"),
        *("claimed_at", "created_at", "updated_at"),
    ]
    exclude = ["claim_token"]
    inlines = [ThumbnailInline]
    actions = ["reprocess"]

    @admin.action(description="Make thumbnails again for the selected images")
    def reprocess(self, request: HttpRequest, queryset: QuerySet[Image]) -> None:
        results = [services.image_reprocess(image=image) for image in queryset]
        self.message_user(request, f"Queued {sum(results)} images for new thumbnails.", messages.SUCCESS)
        if not all(results):
            skipped = results.count(False)
            self.message_user(request, f"Skipped {skipped}: their originals were not kept.", messages.WARNING)


@admin.register(OutgoingEmail)
class OutgoingEmailAdmin(RefuseNulInFilters):
    list_display = ["id", "to", "subject", "status", "attempts", "created_at", "sent_at"]
    list_filter = ["status"]
    search_fields = ["to", "subject"]
    readonly_fields = [
        *("user", "to", "subject", "body", "status", "attempts", "unconfirmed_sends", "last_error"),
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
