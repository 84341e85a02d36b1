"""No upload can make a worker exceed its memory: the decode budget, from the request to the worker.

A small file can hold a huge picture (a 250 KB PNG of 59 MP decodes to 225 MiB), so the pixel
cap alone bounds nothing for PNG, GIF or WebP. inspect_image reckons from the header what
making the thumbnails would cost (decode_budget.estimate_decode) and refuses in the request what
exceeds decode_budget.DECODE_BUDGET_BYTES; the worker checks again. The slow tests upload through
the site and run the Procfile's worker, and read each worker process's peak resident memory
from the kernel.
"""

from __future__ import annotations

import contextlib
import io
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from PIL import Image as PILImage
from PIL import ImageFile

from media_tasks import decode_budget, jobs, rendering, upload_checks
from media_tasks.models import Image
from tests.support import images
from tests.support.processes import Process, procfile_command, wait_until

# Heroku standard-1X has 512 MB and the Procfile runs two workers: half each (the README's promise).
WORKER_PEAK_LIMIT_MIB = 256
# A 60 MP job takes a few seconds here; generous for a busy machine.
JOB_TIMEOUT_SECONDS = 120
TOO_LARGE = "too large to process"

pytestmark = pytest.mark.django_db(transaction=True)


@dataclass(frozen=True)
class Upload:
    name: str
    make: Callable[[], bytes]
    # A phrase of the form's error if the request refuses it; None if a worker makes its thumbnails.
    refused_with: str | None
    why: str


UPLOADS = [
    Upload(
        "rgba-59mp.png",
        lambda: images.large_png(7000, 8430),
        "save it as a JPEG",
        "decodes to 225 MiB at 4 bytes a pixel",
    ),
    Upload(
        "animated-59mp.gif",
        lambda: images.large_animated_gif(7000, 8430, frames=200),
        None,
        "one byte a pixel, and only the first of its 200 frames is decoded",
    ),
    Upload(
        "59mp.webp",
        lambda: images.large_webp(7000, 8430),
        "save it as a JPEG",
        "libwebp and Pillow hold four full-size copies",
    ),
    Upload(
        "60mp.jpg",
        lambda: images.large_jpeg(9486, 6325),
        None,
        "decoded at a quarter scale",
    ),
    Upload(
        "60mp-progressive.jpg",
        lambda: images.large_jpeg(9486, 6325, progressive=True),
        "baseline (not progressive) JPEG",
        "libjpeg holds every coefficient of a progressive file: 172 MiB",
    ),
    Upload(
        "rgba-24mp.png",
        lambda: images.large_png(6000, 4000),
        None,
        "just under the budget (149 of 150 MiB)",
    ),
    Upload(
        "rgba-25mp.png",
        lambda: images.large_png(6200, 4000),
        "save it as a JPEG",
        "just over the budget",
    ),
]


@pytest.fixture
def confirmed_client(client, user):
    user.email_confirmed_at = timezone.now()
    user.save(update_fields=["email_confirmed_at"])
    client.force_login(user)
    return client


def post(client, upload: Upload, data: bytes):
    return client.post(reverse("upload"), {"file": SimpleUploadedFile(upload.name, data)})


def peak_rss_mib(pid: int) -> float:
    """The kernel's high-water mark of the process's resident memory (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmHWM for process {pid}")


@pytest.fixture
def procfile_worker(worker_env) -> Iterator[Callable[[], Process]]:
    started: list[Process] = []

    def start() -> Process:
        # Retiring (WORKER_MAX_RSS_MB) is turned off so that a worker outlives its jobs and its
        # peak can still be read; it acts only after a job, so it never lowers a job's peak.
        env = {**worker_env, "WORKER_CONCURRENCY": "2", "WORKER_MAX_RSS_MB": str(1 << 20)}
        worker = Process(procfile_command("worker"), env)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop(grace=10)


def wait_for_final(image_ids: list[int], worker: Process) -> list[Image]:
    def final() -> list[Image] | None:
        assert worker.poll() is None, worker.output()
        rows = list(Image.objects.filter(pk__in=image_ids).order_by("pk"))
        done = all(row.status in (Image.Status.READY, Image.Status.FAILED) for row in rows)
        return rows if done else None

    return wait_until(final, JOB_TIMEOUT_SECONDS, f"images {image_ids} to be made")


def worker_peaks(worker: Process) -> dict[int, float]:
    """Each process of the worker dyno (the pool's parent and its workers): its peak RSS in MiB."""
    return {process.pid: peak_rss_mib(process.pid) for process in worker.processes()}


# --- In the request ----------------------------------------------------------------------


def test_the_request_walks_a_big_gif_without_decoding_it(monkeypatch):
    data = images.large_animated_gif(7000, 8430, frames=200)

    def no_decoding(*args: object, **kwargs: object) -> None:
        raise AssertionError("pixels were decoded in the request")

    # Every decode in Pillow goes through a decoder from Image._getdecoder, started by load().
    monkeypatch.setattr(PILImage, "_getdecoder", no_decoding)
    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)

    info = upload_checks.inspect_image(io.BytesIO(data))

    assert (info.format, info.width, info.height) == ("GIF", 7000, 8430)


@pytest.mark.parametrize(
    "data",
    [images.large_png(7000, 8430), images.large_jpeg(9486, 6325), images.large_webp(7000, 8430)],
    ids=["png", "jpeg", "webp"],
)
def test_the_request_decodes_no_format(monkeypatch, data):
    # pytest.fail raises past inspect_image's own error handling.
    monkeypatch.setattr(PILImage, "_getdecoder", lambda *args: pytest.fail("pixels were decoded in the request"))

    # Refused or accepted: either way from the header alone.
    with contextlib.suppress(upload_checks.UnreadableImage):
        upload_checks.inspect_image(io.BytesIO(data))


def test_a_gif_cut_short_is_refused_and_junk_after_its_trailer_is_not():
    whole = images.animated("GIF", [(255, 0, 0), (0, 0, 255)])

    for cut in (len(whole) - 1, len(whole) - 5, len(whole) // 2):
        with pytest.raises(upload_checks.UnreadableImage, match="damaged or incomplete"):
            upload_checks.inspect_image(io.BytesIO(whole[:cut]))
    assert upload_checks.inspect_image(io.BytesIO(whole + b"\0" * 40)).format == "GIF"


def test_a_gif_with_a_stray_block_is_refused():
    whole = images.animated("GIF", [(255, 0, 0), (0, 0, 255)])
    broken = whole[:-1] + b"\x99" + whole[-1:]

    with pytest.raises(upload_checks.UnreadableImage, match="damaged or incomplete"):
        upload_checks.inspect_image(io.BytesIO(broken))


@pytest.mark.parametrize("upload", [u for u in UPLOADS if u.refused_with], ids=lambda u: u.name)
def test_an_image_too_large_to_process_is_refused_before_any_decoding(upload):
    with pytest.raises(upload_checks.UnreadableImage) as refused:
        upload_checks.inspect_image(io.BytesIO(upload.make()))

    message = str(refused.value)
    assert TOO_LARGE in message
    assert "upload a smaller image" in message
    assert upload.refused_with in message


def test_the_estimate_counts_a_progressive_jpegs_coefficients_and_not_a_baseline_ones():
    baseline, progressive = images.large_jpeg(4000, 3000), images.large_jpeg(4000, 3000, progressive=True)

    costs = [decode_budget.estimate_decode(PILImage.open(io.BytesIO(d)), d) for d in (baseline, progressive)]

    # 4:2:0: one coefficient array at full size and two at a quarter, 2 bytes each per pixel.
    assert costs[1].decoding - costs[0].decoding == pytest.approx(4000 * 3000 * 3, rel=0.01)


# --- In the worker -----------------------------------------------------------------------


def test_the_worker_refuses_an_image_over_the_budget_however_it_was_stored(user):
    data = images.large_png(7000, 8430)
    image = Image(owner=user, token="over-budget-png", original_name="big.png", width=7000, height=8430)
    image.original.save(image.token, ContentFile(data), save=False)
    image.save()

    with pytest.raises(upload_checks.UnreadableImage, match=TOO_LARGE):
        rendering.render_thumbnails(io.BytesIO(data), (1600, 800, 400))
    jobs.make_thumbnails(image.pk)
    made = Image.objects.get(pk=image.pk)

    assert made.status == Image.Status.FAILED
    assert TOO_LARGE in made.failure_reason


# --- Through the site and the Procfile's worker -------------------------------------------


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="reads peak memory from /proc")
@pytest.mark.parametrize("upload", UPLOADS, ids=lambda u: u.name)
def test_an_upload_is_refused_with_a_reason_or_made_within_256_mib(confirmed_client, user, procfile_worker, upload):
    response = post(confirmed_client, upload, upload.make())

    if upload.refused_with:
        page = response.content.decode()
        assert response.status_code == 400
        assert TOO_LARGE in page and upload.refused_with in page, upload.why
        assert not Image.objects.exists()
        return
    assert response.status_code == 302, response.content.decode()[:2000]
    worker = procfile_worker()
    [image] = wait_for_final([Image.objects.get(owner=user).pk], worker)
    peaks = worker_peaks(worker)

    print(f"\n{upload.name}: peak RSS by process (MiB): {peaks}")
    assert image.status == Image.Status.READY, image.failure_reason
    assert sorted(thumb.size for thumb in image.thumbnails.all()) == [400, 800, 1600]
    assert max(peaks.values()) <= WORKER_PEAK_LIMIT_MIB, (peaks, upload.why)


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="reads peak memory from /proc")
def test_every_accepted_upload_in_a_row_stays_within_256_mib_per_worker(confirmed_client, user, procfile_worker):
    # A worker runs its jobs in its own process, so each starts from whatever the last one left.
    accepted = [upload for upload in UPLOADS if not upload.refused_with] * 2
    for upload in accepted:
        assert post(confirmed_client, upload, upload.make()).status_code == 302
    worker = procfile_worker()

    rows = wait_for_final(list(Image.objects.filter(owner=user).values_list("pk", flat=True)), worker)
    peaks = worker_peaks(worker)

    print(f"\n{len(accepted)} uploads in a row: peak RSS by process (MiB): {peaks}")
    assert [row.status for row in rows] == [Image.Status.READY] * len(accepted)
    assert max(peaks.values()) <= WORKER_PEAK_LIMIT_MIB, peaks
