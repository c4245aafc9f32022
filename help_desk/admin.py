from django.contrib import admin

from help_desk.models import (
    Advisor,
    CannedReply,
    ChatMessage,
    HelpRequest,
    OfflineMessage,
    Queue,
    Rating,
    SecureSegment,
)


class CannedReplyInline(admin.StackedInline[CannedReply, Queue]):
    """What the queue's advisors may pick at the desk's composer, and edit before sending."""

    model = CannedReply
    fields = ("title", "text")
    extra = 1


@admin.register(Queue)
class QueueAdmin(admin.ModelAdmin[Queue]):
    list_display = ["name", "slug", "agreement", "identity_block", "opening_hours"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [CannedReplyInline]


@admin.register(Advisor)
class AdvisorAdmin(admin.ModelAdmin[Advisor]):
    list_display = ["user", "presence", "capacity", "idle_since", "desk_closed_at", "missed_rings"]
    list_filter = ["presence", "queues"]
    filter_horizontal = ["queues"]


class ChatInline(admin.TabularInline[ChatMessage, HelpRequest]):
    model = ChatMessage
    fk_name = "request"
    fields = ("seq", "from_advisor", "body", "created_at", "pager_message", "read_at", "failed")
    readonly_fields = ("seq", "from_advisor", "body", "created_at", "pager_message", "read_at", "failed")
    extra = 0
    can_delete = False


class RatingInline(admin.StackedInline[Rating, HelpRequest]):
    """The customer's own words: shown, never edited."""

    model = Rating
    fields = readonly_fields = ("score", "comment", "rated_at")
    extra = 0
    can_delete = False


@admin.register(HelpRequest)
class HelpRequestAdmin(admin.ModelAdmin[HelpRequest]):
    list_display = ["pk", "queue", "mode", "secure", "status", "advisor", "created_at", "closed_at", "rating"]
    list_filter = ["status", "queue", "mode", "rating__score"]
    search_fields = ["customer_impu", "advisor_impu", "wrap_up", "rating__comment"]
    readonly_fields = ["customer_impu", "advisor_impu", "next_seq"]
    inlines = [RatingInline, ChatInline]


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
