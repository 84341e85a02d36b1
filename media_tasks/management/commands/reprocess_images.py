"""Make thumbnails again for many images, with a progress bar that follows the workers."""

from __future__ import annotations

import time
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from media_tasks import image_lifecycle
from media_tasks.models import Image

FINAL = (Image.Status.READY, Image.Status.FAILED)


class Command(BaseCommand):
    help = "Queue thumbnails to be made again (all images, or those with a status) and follow progress."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--status", choices=[*Image.Status.values, "all"], default="failed")
        parser.add_argument("--timeout", type=float, default=3600, help="Seconds to wait for the workers.")
        parser.add_argument("--no-wait", action="store_true", help="Queue them and return at once.")

    def handle(self, *args: Any, status: str, timeout: float, no_wait: bool, **options: Any) -> None:
        images = Image.objects.all() if status == "all" else Image.objects.filter(status=status)
        started = time.monotonic()
        selected = list(images)
        queued = [image.pk for image in selected if image_lifecycle.image_reprocess(image=image)]
        skipped = len(selected) - len(queued)
        self.stdout.write(f"Queued {len(queued)} images ({skipped} skipped: original not kept).")
        if no_wait or not queued:
            return
        rows = Image.objects.filter(pk__in=queued)
        # django-stubs leaves out OutputWrapper._out, the stream it wraps.
        with tqdm(total=len(queued), unit="image", file=self.stderr._out) as bar:  # type: ignore[call-overload]
            finished = 0
            while finished < len(queued):
                if time.monotonic() - started > timeout:
                    raise CommandError(f"Timed out with {len(queued) - finished} images still in progress.")
                time.sleep(0.5)
                now_finished = rows.filter(status__in=FINAL).count()
                bar.update(now_finished - finished)
                finished = now_finished
        done = rows.filter(status=Image.Status.READY).count()
        failed = rows.filter(status=Image.Status.FAILED).count()
        self.stdout.write(f"Done: {done} ready, {failed} failed, in {time.monotonic() - started:.1f} s.")
