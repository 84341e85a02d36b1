from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from media_tasks.models import Image, Thumbnail, User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
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
class ImageAdmin(admin.ModelAdmin):
    list_display = ["id", "original_name", "owner", "status", "created_at"]
    list_filter = ["status"]
    search_fields = ["original_name", "owner__email"]
    list_select_related = ["owner"]
    readonly_fields = ["token", "original", "width", "height", "status", "failure_reason", "created_at", "updated_at"]
    inlines = [ThumbnailInline]
