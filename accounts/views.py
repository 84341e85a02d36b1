from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import services
from accounts.forms import SignupForm
from web.ratelimit import rate_limited

if TYPE_CHECKING:
    from accounts.http import AuthenticatedHttpRequest


@login_required
@require_POST
@rate_limited("resend", by="user")
def resend_confirmation(request: AuthenticatedHttpRequest) -> HttpResponse:
    if request.user.email_confirmed:
        messages.info(request, "Your email address is already confirmed.")
    else:
        services.email_queue_confirmation(user=request.user, site_url=request.build_absolute_uri("/"))
        messages.success(request, f"A new confirmation email is on its way to {request.user.email}.")
    return redirect("home")


@require_http_methods(["GET", "POST"])
@rate_limited("signup")
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("home")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.user_signup(
            email=form.cleaned_data["email"],
            password=form.cleaned_data["password"],
            site_url=request.build_absolute_uri("/"),
        )
        # The same answer whether the address was new or already had an account, and no
        # session: a login here would tell the two apart. The email says what comes next.
        return redirect("signup_sent")
    return render(request, "accounts/signup.html", {"form": form}, status=400 if form.errors else 200)


@require_GET
def signup_sent(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/signup_sent.html")


@require_GET
def confirm_email(request: HttpRequest, token: str) -> HttpResponse:
    try:
        user = services.user_confirm_email(token=token)
    except services.ConfirmationLinkInvalid as error:
        return render(request, "accounts/confirm_email.html", {"error": str(error)}, status=400)
    # The link confirms but does not log in: whoever signed up with this address chose the
    # password, and it need not be the address's owner who clicks (nor a person: mail scanners
    # open links too). Logging in proves the password.
    return render(request, "accounts/confirm_email.html", {"confirmed": user})


# Django's login view, limited per client IP against password guessing.
login_view = rate_limited("login")(auth_views.LoginView.as_view(template_name="accounts/login.html"))


# Password reset by email, Django's views; the email goes through the outbox like every other.
# Asking for a link is limited like login: it sends email to whatever address is typed.
# https://docs.djangoproject.com/en/6.1/topics/auth/default/#django.contrib.auth.views.PasswordResetView
class PasswordResetView(auth_views.PasswordResetView):
    def form_valid(self, form: Any) -> HttpResponse:
        # Not form.save(): the look-up and the email happen in a job, so that a known address and
        # an unknown one cost the request the same (services.password_reset_request).
        services.password_reset_request(
            email=form.cleaned_data["email"], domain=self.request.get_host(), use_https=self.request.is_secure()
        )
        return HttpResponseRedirect(self.get_success_url())


password_reset = rate_limited("password_reset")(
    PasswordResetView.as_view(
        template_name="accounts/password_reset_form.html", success_url=reverse_lazy("password_reset_done")
    )
)
password_reset_done = auth_views.PasswordResetDoneView.as_view(template_name="accounts/password_reset_done.html")
password_reset_confirm = rate_limited("login")(
    auth_views.PasswordResetConfirmView.as_view(
        template_name="accounts/password_reset_confirm.html", success_url=reverse_lazy("password_reset_complete")
    )
)
password_reset_complete = auth_views.PasswordResetCompleteView.as_view(
    template_name="accounts/password_reset_complete.html"
)
