from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from identity_blocks import actions
from identity_blocks.holders import Holder


@login_required
def my_identity(request: HttpRequest) -> HttpResponse:
    """The IMS identity the portal gives the logged-in user, or their place in line."""
    try:
        assignment = actions.assign_identity(Holder.member(request.user))
    except actions.NoIdentityFree as full:
        context = {"position": full.position, "retry_after": full.retry_after}
        response = render(request, "identity_blocks/my_identity.html", context, status=503)
        response["Retry-After"] = str(full.retry_after)
        return response
    return render(request, "identity_blocks/my_identity.html", {"assignment": assignment})
