"""A delete confirmation that counts related rows instead of listing each one.

Django's confirmation page collects and links every related object: for an identity block that
handed out thousands of identities that is thousands of rows fetched and a page megabytes long.
Here each relation is one COUNT query and one line."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.contrib.admin import AdminSite
from django.contrib.admin.utils import quote
from django.db import models
from django.db.models.deletion import PROTECT, RESTRICT
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.text import capfirst

DeletedObjects = tuple[list[Any], dict[str, int], set[str], list[str]]


def _counted(model: type[models.Model], count: int) -> str:
    meta = model._meta
    return f"{count:,} {meta.verbose_name if count == 1 else meta.verbose_name_plural}"


def _name(model: type[models.Model], plural: bool = False) -> str:
    return str(model._meta.verbose_name_plural if plural else model._meta.verbose_name)


def _linked(obj: models.Model, admin_site: AdminSite) -> str | SafeString:
    meta = obj._meta
    try:
        url = reverse(f"{admin_site.name}:{meta.app_label}_{meta.model_name}_change", args=(quote(obj.pk),))
    except NoReverseMatch:
        return f"{capfirst(meta.verbose_name)}: {obj}"
    return format_html('{}: <a href="{}">{}</a>', capfirst(meta.verbose_name), url, obj)


def _may_delete(model: type[models.Model], request: HttpRequest, admin_site: AdminSite) -> bool:
    return not admin_site.is_registered(model) or admin_site.get_model_admin(model).has_delete_permission(request)


def counted_deletion(objs: Sequence[models.Model], request: HttpRequest, admin_site: AdminSite) -> DeletedObjects:
    """What ModelAdmin.get_deleted_objects returns (to delete, counts by model, permissions
    lacking, protected), with each relation of the objects counted: rows that would go with them
    (CASCADE) and rows that keep them from being deleted (PROTECT, RESTRICT). Rows further down a
    cascade are not counted here; the delete itself removes them as Django always does."""
    if not objs:
        return [], {}, set(), []
    model = type(objs[0])
    counts = {_name(model, plural=True): len(objs)}
    going: list[str] = []
    protected: list[str] = []
    perms_needed: set[str] = set() if _may_delete(model, request, admin_site) else {_name(model)}
    for relation in model._meta.related_objects:
        if relation.many_to_many or relation.on_delete not in (PROTECT, RESTRICT, models.CASCADE):
            continue
        related = relation.field.model
        count = related._default_manager.filter(**{f"{relation.field.name}__in": objs}).count()
        if not count:
            continue
        if relation.on_delete in (PROTECT, RESTRICT):
            protected.append(_counted(related, count))
            continue
        going.append(_counted(related, count))
        counts[_name(related, plural=True)] = count
        if not _may_delete(related, request, admin_site):
            perms_needed.add(_name(related))
    to_delete: list[Any] = [_linked(obj, admin_site) for obj in objs]
    if going:
        to_delete += ["With it:" if len(objs) == 1 else "With them:", going]
    return to_delete, counts, perms_needed, protected
