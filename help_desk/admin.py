from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from help_desk import branding
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
)


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
    inlines = [RatingInline, ChatInline]

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

    list_display = ["request", "asked_by_advisor", "started_at", "ended_at", "verified_by_customer"]
    list_display += ["verified_by_advisor"]
    readonly_fields = [field.name for field in SecureSegment._meta.fields]
