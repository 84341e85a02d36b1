"""Thumbnails keep the durable-work promises: work/conformance.py's kit, on a real upload.

The kit's faults are forced inside the rendering, where the job's own error handling sees them.
"""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile

from media_tasks import image_lifecycle
from media_tasks.models import Image
from tests.support import images
from work import conformance


def new_image(user) -> Image:
    upload = SimpleUploadedFile("holiday.jpg", images.jpeg_bytes(1200, 900), content_type="image/jpeg")
    return image_lifecycle.image_create(owner=user, file=upload)


test_images_keep_the_guarantees = conformance.suite(
    Image, make_row=new_image, fault_at="media_tasks.rendering.render_thumbnails"
)
