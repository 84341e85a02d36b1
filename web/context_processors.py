"""What every page's template may use besides the request and the user."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def site(request: HttpRequest) -> dict[str, str]:
    # The product's name, so no template spells it out and a fork renames it once. Named as the
    # setting, not `site_name`: Django's auth views put the request's host under that name.
    return {"SITE_NAME": settings.SITE_NAME}
