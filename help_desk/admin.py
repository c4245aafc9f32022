from typing import Any

from django.contrib import admin
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from help_desk import actions, branding
from help_desk.models import (
    Advisor,
    CannedReply,
    ChatMessage,
    HelpRequest,
    OfflineMessage,
    Queue,
    Rating,
    RequestStatus,
    SecureSegment,
    WrapUpEdit,
)

# The chat messages the page of a conversation shows: its most recent; all of them are paged in
# the messages' own list.
RECENT_MESSAGES = 50
CHAT_PAGE = 100


class CannedReplyInline(admin.StackedInline[CannedReply, Queue]):
    """What the queue's advisors may pick at the desk's composer, and edit before sending."""

    model = CannedReply
    fields = ("title", "text")
    extra = 1


@admin.register(Queue)
class QueueAdmin(admin.ModelAdmin[Queue]):
    list_display = ["name", "slug", "agreement", "identity_block", "opening_hours", "colour"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["text_on_colour"]
    inlines = [CannedReplyInline]

    @admin.display(description="text on the colour")
    def text_on_colour(self, queue: Queue) -> str:
        text = queue.text_colour
        name = "white" if text == branding.WHITE else "black"
        return f"{name}, contrast {branding.contrast(queue.brand_colour, text):.1f}:1 (WCAG AA asks 4.5:1)"


@admin.register(Advisor)
class AdvisorAdmin(admin.ModelAdmin[Advisor]):
    list_display = ["user", "presence", "capacity", "idle_since", "desk_closed_at", "missed_rings"]
    list_filter = ["presence", "queues"]
    filter_horizontal = ["queues"]


class ReadOnlyInline:
    """What was said and rated is the record of a conversation: shown, never added, edited or deleted."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ChatInline(ReadOnlyInline, admin.TabularInline[ChatMessage, HelpRequest]):
    model = ChatMessage
    fk_name = "request"
    fields = ("seq", "from_advisor", "body", "created_at", "pager_message", "read_at", "failed")


class WrapUpEditInline(ReadOnlyInline, admin.TabularInline[WrapUpEdit, HelpRequest]):
    """Every version of the wrap-up note, who wrote it and when: corrections never erase one."""

    model = WrapUpEdit
    fields = ("edited_at", "edited_by", "text")
    verbose_name = "version of the wrap-up note"
    verbose_name_plural = "history of the wrap-up note"


class RatingInline(ReadOnlyInline, admin.StackedInline[Rating, HelpRequest]):
    """The customer's own words: shown, never edited."""

    model = Rating
    fields = ("score", "comment", "rated_at")


@admin.register(HelpRequest)
class HelpRequestAdmin(admin.ModelAdmin[HelpRequest]):
    list_display = ["pk", "queue", "mode", "secure", "status", "advisor", "created_at", "closed_at", "rating"]
    list_filter = ["status", "queue", "mode", "rating__score"]
    search_fields = ["customer_impu", "advisor_impu", "wrap_up", "rating__comment"]
    # Every field but the wrap-up note is the conversation's record or state that only the help
    # desk's actions change (with their broadcasts, rings and identity releases): an edit here would
    # bypass them. The note is staff's own text about the conversation, which they may correct.
    readonly_fields = [field.name for field in HelpRequest._meta.fields if field.name != "wrap_up"]
    readonly_fields += ["chat"]
    inlines = [RatingInline, WrapUpEditInline, ChatInline]

    @admin.display(description="chat messages")
    def chat(self, request: HelpRequest) -> str:
        everything = reverse("admin:help_desk_helprequest_chat", args=[request.pk])
        count = request.messages.count()
        shown = min(count, RECENT_MESSAGES)
        return format_html(
            'The most recent {} of {} below; <a href="{}">all of them, page by page</a>', shown, count, everything
        )

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view(self.chat_view)
        return [path("<int:object_id>/chat/", view, name="help_desk_helprequest_chat"), *super().get_urls()]

    def chat_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """The conversation's whole chat, oldest first, CHAT_PAGE messages a page."""
        conversation = get_object_or_404(HelpRequest, pk=object_id)
        if not self.has_view_permission(request, conversation):
            raise PermissionDenied
        messages = ChatMessage.objects.filter(request=conversation).order_by("pk")
        page = Paginator(messages, CHAT_PAGE).get_page(request.GET.get("page"))
        context = {**self.admin_site.each_context(request), "opts": self.opts, "original": conversation}
        context |= {"title": f"Chat of {conversation}", "page": page}
        return render(request, "admin/help_desk/helprequest/chat.html", context)

    def get_formset_kwargs(self, request: HttpRequest, obj: HelpRequest, inline: Any, prefix: str) -> dict[str, Any]:
        kwargs = super().get_formset_kwargs(request, obj, inline, prefix)
        if isinstance(inline, ChatInline) and obj.pk is not None:
            recent = ChatMessage.objects.filter(request=obj).order_by("-pk").values("pk")[:RECENT_MESSAGES]
            kwargs["queryset"] = kwargs["queryset"].filter(pk__in=recent)
        return kwargs

    def save_model(self, request: HttpRequest, obj: HelpRequest, form: ModelForm[HelpRequest], change: bool) -> None:
        # Only the note is editable here; its action keeps the version it replaces.
        assert isinstance(request.user, User)  # the admin lets only signed-in staff this far
        actions.edit_wrap_up(obj.pk, obj.wrap_up, request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a help request starts on the help page, with an identity and a ring

    def has_delete_permission(self, request: HttpRequest, obj: HelpRequest | None = None) -> bool:
        # Erasing an ended conversation (a customer's request to be forgotten) is staff's call; an
        # open one would vanish from under the advisor and the customer.
        ended = obj is None or obj.status in (RequestStatus.CLOSED, RequestStatus.ABANDONED)
        return ended and super().has_delete_permission(request, obj)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # one at a time, each checked to have ended
        return actions


@admin.register(OfflineMessage)
class OfflineMessageAdmin(admin.ModelAdmin[OfflineMessage]):
    list_display = ["name", "email", "queue", "created_at", "answered_at", "answered_by"]
    list_filter = [("answered_at", admin.EmptyFieldListFilter), "queue"]
    search_fields = ["name", "email", "message"]
    # Answered from the desk's inbox, which mails the reply; here only read.
    readonly_fields = ["reply", "answered_at", "answered_by"]


@admin.register(SecureSegment)
class SecureSegmentAdmin(admin.ModelAdmin[SecureSegment]):
    """Only that a secure segment happened: what was said on it was never here."""

    list_display = ["request", "outcome", "asked_by_advisor", "started_at", "ended_at", "verified_by_customer"]
    list_display += ["verified_by_advisor"]
    readonly_fields = ["outcome", *(field.name for field in SecureSegment._meta.fields)]

    @admin.display(description="outcome")
    def outcome(self, segment: SecureSegment) -> str:
        return segment.outcome
