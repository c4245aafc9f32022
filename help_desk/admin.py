from django.contrib import admin

from help_desk.models import Advisor, ChatMessage, HelpRequest, OfflineMessage, Queue, SecureSegment


@admin.register(Queue)
class QueueAdmin(admin.ModelAdmin[Queue]):
    list_display = ["name", "slug", "agreement", "identity_block"]
    prepopulated_fields = {"slug": ["name"]}


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


@admin.register(HelpRequest)
class HelpRequestAdmin(admin.ModelAdmin[HelpRequest]):
    list_display = ["pk", "queue", "mode", "secure", "status", "advisor", "created_at", "closed_at"]
    list_filter = ["status", "queue", "mode"]
    search_fields = ["customer_impu", "advisor_impu", "wrap_up"]
    readonly_fields = ["customer_impu", "advisor_impu"]
    inlines = [ChatInline]


@admin.register(OfflineMessage)
class OfflineMessageAdmin(admin.ModelAdmin[OfflineMessage]):
    list_display = ["name", "email", "queue", "created_at", "handled"]
    list_filter = ["handled", "queue"]
    search_fields = ["name", "email", "message"]


@admin.register(SecureSegment)
class SecureSegmentAdmin(admin.ModelAdmin[SecureSegment]):
    """Only that a secure segment happened: what was said on it was never here."""

    list_display = ["request", "asked_by_advisor", "started_at", "ended_at", "verified_by_customer"]
    list_display += ["verified_by_advisor"]
    readonly_fields = [field.name for field in SecureSegment._meta.fields]
