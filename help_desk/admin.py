from django.contrib import admin

from help_desk.models import Queue


@admin.register(Queue)
class QueueAdmin(admin.ModelAdmin[Queue]):
    list_display = ["name", "slug", "agreement", "identity_block"]
    prepopulated_fields = {"slug": ["name"]}
