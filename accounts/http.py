"""For the type checker: the request a view behind @login_required receives.

Django types request.user as a user or AnonymousUser; behind login_required it is always
this project's User.
https://github.com/typeddjango/django-stubs#how-can-i-create-a-httprequest-thats-guaranteed-to-have-an-authenticated-user
"""

from __future__ import annotations

from django.http import HttpRequest

from accounts.models import User


class AuthenticatedHttpRequest(HttpRequest):
    user: User
