"""Mary's history (H.4): her conversations by other party with unread counts, each conversation's
messages, and her call log; all paged. Reading a page moves her read markers."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.paginator import Page, Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from identity_blocks.holders import Holder
from identity_blocks.models import IdentityAssignment
from ims import actions
from ims.models import CallRecord, Direction, PagerMessage

PER_PAGE = 25


def unread(holder: Holder) -> dict[str, int]:
    """What is news to the holder: messages past their read markers, missed calls not yet seen."""
    mine = IdentityAssignment.objects.of(holder)
    messages = PagerMessage.objects.filter(assignment__in=mine).unread_count()
    missed = CallRecord.objects.missed_by(mine).filter(seen=False).count()
    return {"messages": messages, "missed_calls": missed}


def _page(request: HttpRequest, items: Any) -> Page[Any]:
    return Paginator(items, PER_PAGE).get_page(request.GET.get("page"))


@login_required
@require_http_methods(["GET", "HEAD"])
def conversations(request: HttpRequest) -> HttpResponse:
    holder = Holder.member(request.user)
    mine = IdentityAssignment.objects.of(holder)
    page = _page(request, PagerMessage.objects.filter(assignment__in=mine).conversations())
    last = PagerMessage.objects.in_bulk([row["last_id"] for row in page])
    rows = [{**row, "last": last.get(row["last_id"])} for row in page]
    return render(request, "ims/conversations.html", {"page": page, "rows": rows})


class ReplyForm(forms.Form):
    body = forms.CharField(label=_("Message"), max_length=10_000, widget=forms.Textarea(attrs={"rows": 2}))


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def conversation(request: HttpRequest) -> HttpResponse:
    """The messages with one other party (`?with=`), newest page first, oldest first within it."""
    holder, remote = Holder.member(request.user), request.GET.get("with", "").strip()
    form = ReplyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            actions.start_allowed(holder, remote, "message")
            actions.send_message(holder, remote, form.cleaned_data["body"])
            return redirect(f"{reverse('conversation')}?{request.GET.urlencode()}")
        except actions.MessageRefused as refused:
            form.add_error(None, str(refused))
    mine = IdentityAssignment.objects.of(holder)
    page = _page(request, PagerMessage.objects.filter(assignment__in=mine, remote_uri=remote).order_by("-id"))
    messages = list(reversed(page.object_list))
    if messages and page.number == 1:
        actions.mark_read(holder, remote, messages[-1].pk)
    context = {"page": page, "messages": messages, "remote": remote, "form": form}
    return render(request, "ims/conversation.html", context, status=400 if form.errors else 200)


@login_required
@require_http_methods(["GET", "HEAD"])
def calls(request: HttpRequest) -> HttpResponse:
    holder = Holder.member(request.user)
    mine = IdentityAssignment.objects.of(holder)
    page = _page(request, CallRecord.objects.of_identities(mine).order_by("-started_at", "-id"))
    mine_ids = set(mine.values_list("pk", flat=True))
    rows = [_row(call, call.callee_id in mine_ids) for call in page]
    actions.mark_calls_seen(holder)
    return render(request, "ims/calls.html", {"page": page, "rows": rows})


KINDS = {"outgoing": _("Outgoing"), "answered": _("Answered"), "missed": _("Missed"), "ringing": _("Ringing")}


def _row(call: CallRecord, called: bool) -> dict[str, Any]:
    """`called`: a direct call to this holder (its record is the caller's), seen from her side."""
    kind = _kind(call, called)
    remote = call.local_impu if called else call.remote_uri
    return {"call": call, "kind": kind, "label": KINDS[kind], "remote": remote, "seconds": _seconds(call)}


def _kind(call: CallRecord, called: bool) -> str:
    if call.direction == Direction.OUTBOUND and not called:
        return "outgoing"
    return "answered" if call.answered_at else ("missed" if call.ended_at else "ringing")


def _seconds(call: CallRecord) -> int | None:
    if call.answered_at is None or call.ended_at is None:
        return None
    return int((call.ended_at - call.answered_at).total_seconds())
