"""What crossed the IMS, in admin: read only, since the IMS side writes it."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from ims.models import CallRecord


@admin.register(CallRecord)
class CallRecordAdmin(admin.ModelAdmin[CallRecord]):
    list_display = ["started_at", "direction", "local_impu", "remote_uri", "media", "codec", "end_reason"]
    list_filter = ["direction", "media"]
    search_fields = ["local_impu", "remote_uri", "key"]
    date_hierarchy = "started_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
