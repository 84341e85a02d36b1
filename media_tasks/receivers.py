from __future__ import annotations

from typing import Any

from media_tasks import image_lifecycle


def delete_image_files(sender: Any, *, users: Any, **kwargs: Any) -> None:
    # Image rows cascade with their owner; their stored files do not.
    image_lifecycle.image_delete_files_of(owners=users)
