from __future__ import annotations

from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.db.models import Prefetch, QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.views.decorators.http import require_GET, require_POST

from media_tasks import direct_upload, image_lifecycle
from media_tasks.forms import UploadForm
from media_tasks.models import Image, Thumbnail
from media_tasks.upload_checks import UnreadableImage
from web import conf as web_conf
from web.ratelimit import rate_limited
from web.request_limits import accepts_files

if TYPE_CHECKING:
    from accounts.http import AuthenticatedHttpRequest

SERVED_CONTENT_TYPES = {".webp": "image/webp", ".jpg": "image/jpeg", ".png": "image/png"}
MAX_ID = 2**63 - 1  # the largest primary key a bigint column holds


@require_GET
def gallery(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        # The deploy button lands people here first: say what the demo shows before asking for an account.
        return render(request, "media_tasks/landing.html")
    return _render_gallery(request, UploadForm())


@accepts_files(1)
@login_required
@require_POST
@rate_limited("upload", by="user")
def upload(request: AuthenticatedHttpRequest) -> HttpResponse:
    # The gallery's script sends one file per request and asks for JSON; the plain form gets pages.
    wants_json = "application/json" in request.headers.get("Accept", "")
    if not request.user.email_confirmed:
        # A throwaway address must not be enough to store files here.
        if wants_json:
            return JsonResponse({"errors": ["Uploads need a confirmed email address."]}, status=403)
        return _render_gallery(request, UploadForm(), status=403)
    files = request.FILES  # parsing the body runs the upload handlers
    form = UploadForm(request.POST, files, too_large=getattr(request, "upload_too_large", False))
    image = None
    if form.is_valid():
        try:
            image = image_lifecycle.image_create(owner=request.user, file=form.cleaned_data["file"])
        except UnreadableImage as error:
            form.add_error("file", str(error))
    if image is None:
        if wants_json:
            errors = [str(message) for field_errors in form.errors.values() for message in field_errors]
            return JsonResponse({"errors": errors or ["The upload failed."]}, status=400)
        return _render_gallery(request, form, status=400)
    if wants_json:
        html = render_to_string("media_tasks/_image.html", {"image": image}, request=request)
        return JsonResponse({"id": image.pk, "html": html}, status=201)
    # The card beside it shows the thumbnails' progress; this message stays true once they are made.
    messages.success(request, f"“{image}” is uploaded.")
    return redirect("gallery")


@login_required
@require_POST
@rate_limited("upload", by="user")
def upload_presign(request: AuthenticatedHttpRequest) -> JsonResponse:
    """A presigned POST the gallery's script sends one file with straight to the bucket."""
    storage = direct_upload.direct_upload_storage()
    if storage is None:
        raise Http404  # no bucket: uploads go through the site (the upload view)
    if not request.user.email_confirmed:
        return JsonResponse({"errors": ["Uploads need a confirmed email address."]}, status=403)
    presigned = direct_upload.upload_presign(owner=request.user, storage=storage, filename=request.POST.get("name", ""))
    return JsonResponse({"url": presigned.url, "fields": presigned.fields, "key": presigned.key})


@login_required
@require_POST
def upload_complete(request: AuthenticatedHttpRequest) -> JsonResponse:
    """The browser's file is in the bucket: record it and queue its checks. No file bytes come here."""
    storage = direct_upload.direct_upload_storage()
    if storage is None:
        raise Http404
    if not request.user.email_confirmed:
        return JsonResponse({"errors": ["Uploads need a confirmed email address."]}, status=403)
    key = request.POST.get("key", "")
    try:
        image = direct_upload.upload_complete(owner=request.user, storage=storage, key=key)
    except direct_upload.DirectUploadRefused as error:
        return JsonResponse({"errors": [str(error)]}, status=400)
    html = render_to_string("media_tasks/_image.html", {"image": image}, request=request)
    return JsonResponse({"id": image.pk, "html": html}, status=201)


def _render_gallery(request: HttpRequest, form: UploadForm, status: int = 200) -> HttpResponse:
    images = list(_images_of(request.user))
    context = {
        "images": images,
        "form": form,
        "upload_refused": status == 403,
        "max_upload_bytes": web_conf.MAX_UPLOAD_BYTES(),
        # The gallery's script sends files straight to the bucket when there is one.
        "direct_upload": direct_upload.direct_upload_storage() is not None,
    }
    return render(request, "media_tasks/gallery.html", context, status=status)


def _images_of(user: Any) -> QuerySet[Image]:
    return Image.objects.filter(owner=user).prefetch_related(
        Prefetch("thumbnails", queryset=Thumbnail.objects.order_by("size"))
    )


@login_required
@require_GET
def image_updates(request: HttpRequest) -> JsonResponse:
    """The gallery's script asks here for the images still in progress: their markup as it is now."""
    try:
        ids = [int(part) for part in request.GET.get("ids", "").split(",") if part][:200]
    except ValueError:
        return JsonResponse({"error": "ids must be comma-separated numbers"}, status=400)
    # An id no database column can hold names no image; SQLite would raise OverflowError on it.
    ids = [pk for pk in ids if 0 < pk <= MAX_ID]
    images = _images_of(request.user).filter(pk__in=ids)
    fragments = {
        str(image.pk): render_to_string("media_tasks/_image.html", {"image": image}, request=request)
        for image in images
    }
    return JsonResponse({"images": fragments})


@login_required
@require_POST
def image_retry(request: HttpRequest, image_id: int) -> HttpResponse:
    image = get_object_or_404(Image, pk=image_id, owner=request.user)
    if image.status != Image.Status.FAILED:
        messages.info(request, f"“{image}” is {image.get_status_display().lower()}; nothing to retry.")
    elif image_lifecycle.image_reprocess(image=image):
        messages.success(request, f"Trying “{image}” again.")
    else:
        messages.error(request, f"The original of “{image}” is no longer stored; please upload it again.")
    return redirect("gallery")


@login_required
@require_GET
def image_detail(request: HttpRequest, image_id: int) -> HttpResponse:
    image = get_object_or_404(_images_of(request.user), pk=image_id)
    thumbs = list(image.thumbnails.all())  # smallest first
    return render(
        request,
        "media_tasks/image_detail.html",
        {"image": image, "thumbs": thumbs, "largest": thumbs[-1] if thumbs else None},
    )


@login_required
@require_GET
def image_delete_confirm(request: HttpRequest, image_id: int) -> HttpResponse:
    image = get_object_or_404(_images_of(request.user), pk=image_id)
    return render(request, "media_tasks/image_delete.html", {"image": image})


@login_required
@require_POST
def image_delete(request: AuthenticatedHttpRequest, image_id: int) -> HttpResponse:
    image = Image.objects.filter(pk=image_id, owner=request.user).first()
    # A second click, or a second tab, finds it gone: that is what was asked for, not an error.
    if image is None or not image_lifecycle.image_delete(image=image, user=request.user):
        messages.info(request, "That image is already deleted.")
    else:
        messages.success(request, f"“{image}” is deleted.")
    return redirect("gallery")


@login_required
@require_GET
def media(request: HttpRequest, path: str) -> FileResponse:
    # Paths are "<kind>/<owner id>/<random token>...": only the owner (or staff) may read them.
    parts = path.split("/")
    if len(parts) != 3 or parts[0] != "thumbnails" or ".." in parts:
        raise Http404
    if parts[1] != str(request.user.pk) and not request.user.is_staff:
        raise Http404
    content_type = SERVED_CONTENT_TYPES.get(PurePosixPath(path).suffix)
    if content_type is None or not default_storage.exists(path):
        raise Http404
    response = FileResponse(default_storage.open(path, "rb"), content_type=content_type)
    # Only re-encoded thumbnails are served, and even those may never run as a document.
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, max-age=86400"
    return response
