from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path

from media_tasks import views

urlpatterns = [
    path("", views.gallery, name="gallery"),
    path("upload/", views.upload, name="upload"),
    path("images/updates/", views.image_updates, name="image_updates"),
    path("images/<int:image_id>/retry/", views.image_retry, name="image_retry"),
    path("confirm/resend/", views.resend_confirmation, name="resend_confirmation"),
    path("signup/", views.signup, name="signup"),
    path("signup/sent/", views.signup_sent, name="signup_sent"),
    path("confirm/<str:token>/", views.confirm_email, name="confirm_email"),
    path("login/", views.login_view, name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("media/<path:path>", views.media, name="media"),
]
