from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from media_tasks import image_lifecycle
from media_tasks.models import Image, Thumbnail
from work.admin import WorkItemAdmin


class ThumbnailInline(admin.TabularInline):
    model = Thumbnail
    extra = 0
    readonly_fields = ["size", "width", "height", "file"]
    can_delete = False


@admin.register(Image)
class ImageAdmin(WorkItemAdmin):
    list_display = ["id", "original_name", "owner", "status", "attempts", "created_at"]
    list_filter = ["status", ("owner", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["original_name", "owner__email"]
    list_select_related = ["owner"]
    readonly_fields = [
        *("token", "original", "width", "height", "status", "failure_reason", "attempts", "last_error"),
        *("claimed_at", "created_at", "updated_at"),
    ]
    inlines = [ThumbnailInline]
    actions = ["reprocess"]

    @admin.action(description="Make thumbnails again for the selected images")
    def reprocess(self, request: HttpRequest, queryset: QuerySet[Image]) -> None:
        results = [image_lifecycle.image_reprocess(image=image) for image in queryset]
        self.message_user(request, f"Queued {sum(results)} images for new thumbnails.", messages.SUCCESS)
        if not all(results):
            skipped = results.count(False)
            self.message_user(request, f"Skipped {skipped}: their originals were not kept.", messages.WARNING)
