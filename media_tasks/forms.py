from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import password_validation
from django.core.files.uploadedfile import UploadedFile

from media_tasks.models import User


class SignupForm(forms.Form):
    email = forms.EmailField(max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    password = forms.CharField(
        strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}), min_length=1
    )

    def clean_email(self) -> str:
        # Whether the address has an account is never a form error: that would tell anyone
        # who asks (services.user_signup handles both cases alike).
        return User.objects.normalize_email(self.cleaned_data["email"])

    def clean(self) -> dict:
        cleaned = super().clean() or {}
        password = cleaned.get("password")
        if password:
            candidate = User(email=cleaned.get("email", ""))
            try:
                password_validation.validate_password(password, candidate)
            except forms.ValidationError as error:
                self.add_error("password", error)
        return cleaned


class UploadForm(forms.Form):
    file = forms.FileField(label="Image", error_messages={"required": "Choose an image to upload."})

    def __init__(self, *args: Any, too_large: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The size limit may already have dropped the file while it streamed in.
        self.too_large = too_large
        self.fields["file"].required = not too_large

    def clean(self) -> dict[str, Any]:
        if self.too_large:
            raise forms.ValidationError(self._too_large_message())
        return super().clean() or {}

    def clean_file(self) -> UploadedFile | None:
        upload: UploadedFile | None = self.cleaned_data["file"]
        if upload is None:
            return None
        if upload.size is not None and upload.size > settings.MAX_UPLOAD_BYTES:
            raise forms.ValidationError(self._too_large_message())
        # Whether the bytes are an image is services.image_create's decision (it reads them once).
        return upload

    @staticmethod
    def _too_large_message() -> str:
        return f"The file is larger than the {settings.MAX_UPLOAD_BYTES / (1024 * 1024):g} MB limit."
