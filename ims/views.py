"""Mary's page: the identity the portal gives her and her pager messages."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from identity_blocks import actions
from identity_blocks.holders import Holder
from identity_blocks.models import IdentityAssignment
from ims.models import PagerMessage


@login_required
def my_identity(request: HttpRequest) -> HttpResponse:
    """The IMS identity the portal gives the logged-in user, or their place in line."""
    holder = Holder.member(request.user)
    try:
        assignment = actions.assign_identity(holder)
    except actions.NoIdentityFree as full:
        context: dict[str, object] = {"position": full.position, "retry_after": full.retry_after}
        response = render(request, "ims/my_identity.html", context, status=503)
        response["Retry-After"] = str(full.retry_after)
        return response
    mine = IdentityAssignment.objects.of(holder)
    messages = PagerMessage.objects.filter(assignment__in=mine).order_by("-created_at")[:50]
    context = {"assignment": assignment, "messages": reversed(list(messages))}
    return render(request, "ims/my_identity.html", context)
