from __future__ import annotations

from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile

from web import conf as web_conf


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
        if upload.size is not None and upload.size > web_conf.MAX_UPLOAD_BYTES():
            raise forms.ValidationError(self._too_large_message())
        # Whether the bytes are an image is image_lifecycle.image_create's decision (it reads them once).
        return upload

    @staticmethod
    def _too_large_message() -> str:
        return f"The file is larger than the {web_conf.MAX_UPLOAD_BYTES() / (1024 * 1024):g} MB limit."
