"""The help desk's pages (WWSF): home, help page, a request's conversation, the advisor desk."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.validators import slug_re
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from help_desk import actions, came_from, chat, inbox, tasks, transcripts
from help_desk.chat import side_of
from help_desk.embedding import embeddable
from help_desk.forms import OfflineMessageForm, RatingForm, TranscriptForm
from help_desk.models import Advisor, CannedReply, HelpRequest, Queue, Rating, RequestStatus
from identity_blocks.actions import NoIdentityFree, assign_identity
from identity_blocks.holders import Holder
from portal import limits

HELP_MODES = [
    ("chat", _("Chat"), _("Type with an advisor.")),
    ("voice", _("Voice"), _("Talk with an advisor.")),
    ("video", _("Video"), _("See and talk with an advisor.")),
]
PRIVACY_MODES = [
    ("unsecured", _("Standard"), _("Carried by the operator's IMS network.")),
    ("secure", _("Secure"), _("End to end between your browser and the advisor's; the portal cannot read it.")),
]


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html")


def _queue(request: HttpRequest) -> Queue:
    slug = request.GET.get("queue") or request.POST.get("queue")
    if slug and not slug_re.fullmatch(slug):  # not one a queue can have (a NUL would reach the database)
        raise Http404("No such queue.")
    queues = Queue.objects.select_related("agreement")
    return get_object_or_404(queues, slug=slug) if slug else get_object_or_404(queues.order_by("id")[:1])


def _queue_origins(request: HttpRequest) -> list[str]:
    return _queue(request).origins


def _request_origins(request: HttpRequest, request_id: int) -> list[str]:
    listed = HelpRequest.objects.filter(pk=request_id).values_list("queue__embedding_origins", flat=True).first()
    return (listed or "").split()


def brand_css(request: HttpRequest, slug: str) -> HttpResponse:
    """The queue's colours as CSS custom properties: a stylesheet from 'self', as the CSP allows
    (no inline style). The page links it with the colour in its query, so a change shows at once."""
    queue = get_object_or_404(Queue, slug=slug)
    css = f":root {{ --brand: {queue.brand_colour}; --brand-text: {queue.text_colour}; }}\n"
    response = HttpResponse(css, content_type="text/css; charset=utf-8")
    response["Cache-Control"] = "public, max-age=86400"
    return response


def brand_json(request: HttpRequest, slug: str) -> JsonResponse:
    """What the HELP button's loader reads on the embedding site to wear the queue's colour. Public
    (the help page shows the same), so any site may read it; no cookie is asked for."""
    queue = get_object_or_404(Queue, slug=slug)
    response = JsonResponse({"name": queue.shown_name, "colour": queue.brand_colour, "text": queue.text_colour})
    response["Access-Control-Allow-Origin"] = "*"
    response["Cache-Control"] = "public, max-age=300"
    return response


def _allowed_origins(request: HttpRequest, queue: Queue) -> tuple[str, ...]:
    return (request.build_absolute_uri("/").rstrip("/"), *queue.origins)


def _origin_allowed(request: HttpRequest, queue: Queue) -> bool:
    """Only sites configured for the queue (or the portal itself) may send people here."""
    claimed = request.GET.get("origin") or ""
    referer = request.headers.get("Referer", "")
    origins = {claimed} if claimed else set()
    if referer:
        parts = urlsplit(referer)
        origins.add(f"{parts.scheme}://{parts.netloc}")
    allowed = _allowed_origins(request, queue)
    return all(origin in allowed for origin in origins)


def _holder(request: HttpRequest) -> Holder:
    if request.user.is_authenticated:
        return Holder.member(request.user)
    key = request.session.get("guest_key") or Holder.new_guest_key()
    request.session["guest_key"] = key
    return Holder.guest(key)


@embeddable(_queue_origins)
def help_page(request: HttpRequest) -> HttpResponse:
    queue = _queue(request)
    if not _origin_allowed(request, queue):
        return render(request, "help_desk/not_here.html", {"queue": queue}, status=403)
    agreement = queue.agreement
    allowed = {"chat": agreement.allows_chat, "voice": agreement.allows_voice, "video": agreement.allows_video}
    # Shown where the agreement allows them; not selectable while the portal cannot carry them yet.
    modes = [(*m, m[0] in actions.AVAILABLE_MODES) for m in HELP_MODES if allowed[m[0]]]
    privacy = [(*p, p[0] == "unsecured" or actions.SECURE_AVAILABLE) for p in PRIVACY_MODES]
    open_now = queue.is_open()  # outside its business hours a queue takes messages only
    context = {
        "queue": queue,
        "modes": modes,
        "privacy_modes": privacy if agreement.allows_secure_chat else privacy[:1],
        "closed": not open_now,
        "on_duty": open_now and actions.on_duty(queue),
        # On duty but Busy (or their desk reloading): she may wait in line or leave a message.
        "taking_requests": open_now and actions.taking_requests(queue),
        # Carried to the start, for the advisor's desk.
        "came_from": came_from.seen_by_help_page(request, _allowed_origins(request, queue)),
    }
    return render(request, "help_desk/help.html", context)


def _open_request(request: HttpRequest, queue: Queue) -> HelpRequest | None:
    """Her request already open in this queue; a visitor with no guest key yet has none."""
    if not request.user.is_authenticated and "guest_key" not in request.session:
        return None
    return actions.open_request(_holder(request), queue)


def _over_limit(request: HttpRequest, queue: Queue) -> HttpResponse | None:
    """A 429 once this address, or this browser, has started too many requests lately: each
    start holds an IMS identity, and they are few. The address counts first, so a flood that
    keeps no cookie is refused before a session is stored for it."""
    window = settings.HELP_START_WINDOW_SECONDS
    address = limits.address_key(limits.client_address(request))
    allowed = limits.allow("help-start-address", address, settings.HELP_START_PER_ADDRESS, window)
    if allowed:
        client = _holder(request).group
        allowed = limits.allow("help-start-client", client, settings.HELP_START_PER_CLIENT, window)
    if allowed:
        return None
    retry_after = limits.seconds_left(window)
    response = render(request, "help_desk/too_many.html", {"queue": queue, "retry_after": retry_after}, status=429)
    response["Retry-After"] = str(retry_after)
    return response


@embeddable(_queue_origins)
@require_POST
def start(request: HttpRequest) -> HttpResponse:
    queue = _queue(request)
    existing = _open_request(request, queue)
    if existing is not None:  # one request at a time: a second start goes back to it
        return redirect("help-request", request_id=existing.pk)
    refused = _over_limit(request, queue)
    if refused is not None:
        return refused
    mode, privacy = request.POST.get("mode", "chat"), request.POST.get("privacy", "unsecured")
    try:
        page = came_from.shown(request.POST.get("came_from", ""), _allowed_origins(request, queue))
        help_request = actions.request_help(_holder(request), queue, mode, privacy == "secure", came_from=page)
    except actions.HelpRefused as refused_help:
        context = {"queue": queue, "reason": str(refused_help)}
        return render(request, "help_desk/refused.html", context, status=400)
    except NoIdentityFree as full:
        # A page for a person, not a 503: Django saves no session on a 5xx, and the place in line
        # belongs to this browser's guest session.
        context = {"queue": queue, "position": full.position, "retry_after": full.retry_after}
        context.update(mode=mode, privacy="secure" if privacy == "secure" else "unsecured")
        response = render(request, "help_desk/full.html", context)
        response["Retry-After"] = str(full.retry_after)
        return response
    return redirect("help-request", request_id=help_request.pk)


@embeddable(_queue_origins)
@require_POST
def offline(request: HttpRequest) -> HttpResponse:
    queue = _queue(request)
    form = OfflineMessageForm(request.POST)
    if not form.is_valid():
        return render(request, "help_desk/refused.html", {"queue": queue, "reason": form.problem()}, status=400)
    fields = form.cleaned_data
    actions.leave_offline_message(queue, fields["name"], fields["email"], fields["message"])
    return render(request, "help_desk/offline_thanks.html", {"queue": queue})


def _conversation(request: HttpRequest, request_id: int) -> tuple[HelpRequest, bool]:
    help_request = get_object_or_404(HelpRequest.objects.select_related("queue", "advisor__user"), pk=request_id)
    try:
        return help_request, side_of(help_request, _holder(request))
    except actions.NotYours:
        raise PermissionDenied from None


@embeddable(_request_origins)
def request_page(request: HttpRequest, request_id: int) -> HttpResponse:
    help_request, is_advisor = _conversation(request, request_id)
    if is_advisor:
        return redirect("desk")
    context = {
        "help_request": help_request,
        "queue": help_request.queue,
        "max_chars": chat.MAX_CHARS,
        "ended": help_request.status == RequestStatus.CLOSED,
        "rating": Rating.objects.filter(request=help_request).first(),
        "rating_form": RatingForm(),
        "transcript_form": TranscriptForm(),
    }
    return render(request, "help_desk/request.html", context)


def _customer_s(request: HttpRequest, request_id: int) -> HelpRequest:
    help_request, is_advisor = _conversation(request, request_id)
    if is_advisor:
        raise PermissionDenied("Only the customer does this.")
    return help_request


def _refused(request: HttpRequest, help_request: HelpRequest, reason: str, status: int = 400) -> HttpResponse:
    return render(request, "help_desk/refused.html", {"queue": help_request.queue, "reason": reason}, status=status)


@embeddable(_request_origins)
@require_POST
def rate(request: HttpRequest, request_id: int) -> HttpResponse:
    help_request = _customer_s(request, request_id)
    form = RatingForm(request.POST)
    if not form.is_valid():
        return _refused(request, help_request, form.problem())
    try:
        actions.rate_conversation(help_request.pk, _holder(request), **form.cleaned_data)
    except actions.HelpRefused as refused:
        return _refused(request, help_request, str(refused))
    messages.success(request, "Thank you for your rating.")
    return redirect("help-request", request_id=help_request.pk)


@embeddable(_request_origins)
@require_POST
def mail_transcript(request: HttpRequest, request_id: int) -> HttpResponse:
    """E-mail the ended conversation's transcript to the address she gives, a few times an hour
    at most (each goes wherever she types)."""
    help_request = _customer_s(request, request_id)
    form = TranscriptForm(request.POST)
    if not form.is_valid():
        return _refused(request, help_request, form.problem())
    if help_request.status != RequestStatus.CLOSED:
        return _refused(request, help_request, "The transcript can be e-mailed once the conversation has ended.")
    if not limits.allow("transcript-mail", str(help_request.pk), settings.HELP_TRANSCRIPT_MAILS_PER_HOUR, 3600):
        response = _refused(request, help_request, "The transcript was e-mailed often enough; try again later.", 429)
        response["Retry-After"] = str(limits.seconds_left(3600))
        return response
    address = form.cleaned_data["email"]
    transaction.on_commit(lambda: tasks.mail_transcript.delay(help_request.pk, address))
    messages.success(request, f"The transcript is on its way to {address}.")
    return redirect("help-request", request_id=help_request.pk)


def transcript(request: HttpRequest, request_id: int) -> HttpResponse:
    help_request, is_advisor = _conversation(request, request_id)
    text = transcripts.text(help_request, for_advisor=is_advisor)
    response = HttpResponse(text, content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="conversation-{help_request.pk}.txt"'
    return response


@login_required
def desk(request: HttpRequest) -> HttpResponse:
    advisor = Advisor.objects.filter(user__username=request.user.get_username()).prefetch_related("queues").first()
    if advisor is None:
        raise PermissionDenied("Only advisors have a desk.")
    # The advisor's own identity, registered with the IMS while the desk is open (shown live).
    try:
        identity_error = ""
        assign_identity(Holder.member(request.user))
    except NoIdentityFree as full:
        identity_error = str(full)
    context = {"advisor": advisor, "identity_error": identity_error, "max_chars": chat.MAX_CHARS}
    context.update(unanswered=inbox.unanswered(advisor), canned=_canned(advisor))
    context["unanswered_by_queue"] = inbox.unanswered_by_queue(advisor)
    return render(request, "help_desk/desk.html", context)


def _canned(advisor: Advisor) -> dict[int, list[dict[str, str]]]:
    """The canned replies of the advisor's queues, by queue id, for the composer's list."""
    found: dict[int, list[dict[str, str]]] = {}
    for reply in CannedReply.objects.filter(queue__advisors=advisor).order_by("title", "pk"):
        found.setdefault(reply.queue_id, []).append({"title": reply.title, "text": reply.text})
    return found


def tax_site(request: HttpRequest) -> HttpResponse:
    """The sample third-party site of the demo: a tax tool that embeds the HELP button. Only with
    the demo (DEMO_SITE): a production portal serves no made-up site. `?open=panel` shows the help
    in a panel on the page instead of a window of its own."""
    if not settings.DEMO_SITE:
        raise Http404("no demo site here")
    context = {"queue": Queue.objects.order_by("id").first(), "panel": request.GET.get("open") == "panel"}
    return render(request, "demo/tax_site.html", context)
