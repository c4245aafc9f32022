"""What crossed the IMS, in admin: read only, since the IMS side and the portal's refusals write it."""

from __future__ import annotations

from typing import Any, TypeVar

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

from ims.models import CallRecord, RefusedAttempt

M = TypeVar("M", bound=Model)


class ReadOnlyAdmin(admin.ModelAdmin[M]):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(CallRecord)
class CallRecordAdmin(ReadOnlyAdmin[CallRecord]):
    list_display = ["started_at", "direction", "local_impu", "remote_uri", "media", "codec", "end_reason"]
    list_filter = ["direction", "media"]
    search_fields = ["local_impu", "remote_uri", "key"]
    date_hierarchy = "started_at"


@admin.register(RefusedAttempt)
class RefusedAttemptAdmin(ReadOnlyAdmin[RefusedAttempt]):
    list_display = ["at", "kind", "holder", "local_impu", "destination", "reason"]
    list_filter = ["kind"]
    search_fields = ["local_impu", "destination", "holder"]
    date_hierarchy = "at"
