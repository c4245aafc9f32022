"""Mary's page: the identity the portal gives her and her pager messages."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from identity_blocks import actions
from identity_blocks.holders import Holder
from identity_blocks.models import IdentityAssignment
from ims import history
from ims.models import PagerMessage


@login_required
@require_http_methods(["GET", "HEAD"])
def my_identity(request: HttpRequest) -> HttpResponse:
    """The IMS identity the portal gave the logged-in user at log-in, or their place in line."""
    holder = Holder.member(request.user)
    assignment = actions.live_identity(holder)
    if assignment is None:
        position = actions.place_in_line(holder)
        context: dict[str, object] = {"position": position, "retry_after": actions.retry_after()}
        response = render(request, "ims/my_identity.html", context, status=503 if position else 200)
        if position:
            response["Retry-After"] = str(context["retry_after"])
        return response
    mine = IdentityAssignment.objects.of(holder)
    messages = PagerMessage.objects.filter(assignment__in=mine).order_by("-created_at")[:50]
    context = {
        "assignment": assignment,
        "messages": reversed(list(messages)),
        "unread": history.unread(holder),
    }
    return render(request, "ims/my_identity.html", context)


@login_required
@require_POST
def ask_for_identity(request: HttpRequest) -> HttpResponse:
    """For one whose identity went (its block expired) or who logged in before identities were
    given at log-in: an identity now, or a place in line."""
    actions.member_logged_in(Holder.member(request.user))
    return redirect("my-identity-page")
