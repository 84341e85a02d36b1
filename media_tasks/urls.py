from __future__ import annotations

from django.urls import path

from media_tasks import views

urlpatterns = [
    path("", views.gallery, name="gallery"),
    path("upload/", views.upload, name="upload"),
    path("upload/presign/", views.upload_presign, name="upload_presign"),
    path("upload/complete/", views.upload_complete, name="upload_complete"),
    path("images/updates/", views.image_updates, name="image_updates"),
    path("images/<int:image_id>/retry/", views.image_retry, name="image_retry"),
    path("images/<int:image_id>/", views.image_detail, name="image_detail"),
    path("images/<int:image_id>/delete/", views.image_delete_confirm, name="image_delete_confirm"),
    path("images/<int:image_id>/delete/confirmed/", views.image_delete, name="image_delete"),
    path("media/<path:path>", views.media, name="media"),
]
