"""The desk's inbox: the messages people left on the help page while nobody was on duty or the
queue was closed, for the advisor's queues; each answered by e-mail from here."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import F, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext, gettext_lazy

from help_desk import actions
from help_desk.forms import FirstProblem
from help_desk.models import Advisor, OfflineMessage

SHOWN = 200  # messages listed, unanswered first


class ReplyForm(FirstProblem, forms.Form):
    reply = forms.CharField(
        label=gettext_lazy("Your reply"), max_length=10000, widget=forms.Textarea(attrs={"rows": 6})
    )


def advisor_of(request: HttpRequest) -> Advisor:
    advisor = Advisor.objects.filter(user_id=request.user.pk).first() if request.user.is_authenticated else None
    if advisor is None:
        raise PermissionDenied("Only advisors have a desk.")
    return advisor


def messages_of(advisor: Advisor) -> QuerySet[OfflineMessage]:
    return OfflineMessage.objects.filter(queue__advisors=advisor).select_related("queue", "answered_by")


def unanswered(advisor: Advisor) -> int:
    return int(messages_of(advisor).filter(answered_at__isnull=True).count())


def unanswered_by_queue(advisor: Advisor) -> dict[int, int]:
    """For the desk, which then follows each queue's count (help.inbox events)."""
    counts = {queue_id: 0 for queue_id in advisor.queues.values_list("pk", flat=True)}
    for queue_id in messages_of(advisor).filter(answered_at__isnull=True).values_list("queue_id", flat=True):
        counts[queue_id] += 1
    return counts


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    advisor = advisor_of(request)
    found = messages_of(advisor).order_by(F("answered_at").desc(nulls_first=True), "-created_at")[:SHOWN]
    return render(request, "help_desk/inbox.html", {"found": found, "unanswered": unanswered(advisor)})


@login_required
def message(request: HttpRequest, message_id: int) -> HttpResponse:
    """The message, and the reply form until it is answered; a reply goes by e-mail."""
    advisor = advisor_of(request)
    left = get_object_or_404(messages_of(advisor), pk=message_id)
    form = ReplyForm(request.POST or None)
    status = 200
    if request.method == "POST":
        try:
            if not form.is_valid():
                raise actions.HelpRefused(form.problem())
            actions.answer_offline_message(advisor, left.pk, form.cleaned_data["reply"])
        except actions.HelpRefused as refused:
            form.add_error(None, str(refused))
            left.refresh_from_db()  # another advisor's answer, if that was why
            status = 400
        else:
            messages.success(
                request,
                gettext("Your reply to %(name)s is on its way to %(email)s.")
                % {"name": left.name, "email": left.email},
            )
            return redirect("desk-inbox")
    return render(request, "help_desk/inbox_message.html", {"left": left, "form": form}, status=status)
