from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path

from identity_blocks import actions, credentials
from identity_blocks.models import (
    AuthScheme,
    IdentityAssignment,
    IdentityBlock,
    IdentityCredential,
    IdentityWait,
    Operator,
    ServiceAgreement,
)
from portal.admin_counts import DeletedObjects, counted_deletion


@admin.register(Operator)
class OperatorAdmin(admin.ModelAdmin[Operator]):
    list_display = ["name", "home_domain", "realm", "outbound_proxy"]
    search_fields = ["name", "home_domain"]


@admin.register(ServiceAgreement)
class AgreementAdmin(admin.ModelAdmin[ServiceAgreement]):
    list_display = ["__str__", "operator", "usage", "max_sessions", "valid_from", "valid_until"]
    list_filter = ["operator"]
    readonly_fields = ["live_assignments"]

    @admin.display(description="registrations (live / max)")
    def usage(self, agreement: ServiceAgreement) -> str:
        return f"{agreement.live_assignments} / {agreement.max_registrations}"


class BlockForm(forms.ModelForm[IdentityBlock]):
    password = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=(
            "Digest password for the whole block: under one user name stored only as its hash, under each "
            "identity's own user name sealed (encrypted). Empty keeps the current one."
        ),
    )

    class Meta:
        model = IdentityBlock
        fields = [
            "operator", "agreement", "name", "kind", "pattern", "domain", "first", "last", "identities",
            "audience", "status", "starts_at", "ends_at", "auth_scheme", "auth_username",
        ]  # fmt: skip

    def _post_clean(self) -> None:
        # Only now does the instance carry the form's values.
        super()._post_clean()  # type: ignore[misc]  # a private hook the stubs leave out
        if self.errors:
            return
        try:
            actions.check_block(self.instance)
        except actions.InvalidDefinition as error:
            self.add_error(None, str(error))
        if self.instance.auth_scheme == AuthScheme.DIGEST_BLOCK:
            self._clean_block_credential()
        elif self.instance.auth_scheme == AuthScheme.DIGEST_SHARED:
            self._clean_shared_password()

    def _clean_block_credential(self) -> None:
        # Only the hash of username, realm and password is kept, so one username serves the block.
        if not self.instance.auth_username:
            self.add_error("auth_username", "A block-wide Digest credential needs its private identity (IMPI).")
        if not self.instance.ha1_md5 and not self.cleaned_data.get("password"):
            self.add_error("password", "A block-wide Digest credential needs a password.")

    def _clean_shared_password(self) -> None:
        try:
            credentials.check_username_template(self.instance.auth_username)
        except ValueError as error:
            self.add_error("auth_username", str(error))
        if not self.instance.sealed_password and not self.cleaned_data.get("password"):
            self.add_error("password", "One password for the block's identities is needed.")


@admin.register(IdentityBlock)
class BlockAdmin(admin.ModelAdmin[IdentityBlock]):
    form = BlockForm
    list_display = ["name", "operator", "kind", "status", "usage", "audience", "ends_at"]
    list_filter = ["status", "kind", "operator"]
    search_fields = ["name", "pattern", "domain", "identities"]
    readonly_fields = ["size", "next_index", "credentials_realm"]
    actions = ["suspend", "resume", "expire"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[IdentityBlock]:
        return IdentityBlock.objects.with_usage().select_related("operator")

    def get_readonly_fields(self, request: HttpRequest, obj: IdentityBlock | None = None) -> list[str]:
        frozen = ["kind", "pattern", "domain", "first", "last", "identities", "operator"]
        return self.readonly_fields + (frozen if obj is not None and obj.next_index > 0 else [])

    @admin.display(description="assigned / total")
    def usage(self, block: IdentityBlock) -> str:
        assigned = getattr(block, "assigned", 0)
        full = " (full)" if assigned >= block.size else ""
        return f"{assigned:,} / {block.size:,}{full}"

    def save_model(self, request: HttpRequest, obj: IdentityBlock, form: Any, change: bool) -> None:
        actions.save_block(obj)
        if form.cleaned_data.get("password"):
            actions.set_block_password(obj.pk, form.cleaned_data["password"])

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> DeletedObjects:
        # A block's past assignments may be thousands: counted, not listed one by one.
        return counted_deletion(list(objs), request, self.admin_site)

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        waiting = IdentityWait.objects.filter(served_at=None).count()
        if waiting:
            messages.warning(request, f"Shortage: {waiting} waiting for an IMS identity; every suitable one is taken.")
        return super().changelist_view(request, extra_context)

    @admin.action(description="Suspend (de-register and release their identities)")
    def suspend(self, request: HttpRequest, queryset: QuerySet[IdentityBlock]) -> None:
        for block in queryset:
            actions.suspend_block(block.pk, reason=f"suspended by {request.user}")

    @admin.action(description="Resume suspended blocks")
    def resume(self, request: HttpRequest, queryset: QuerySet[IdentityBlock]) -> None:
        for block in queryset:
            actions.resume_block(block.pk)

    @admin.action(description="Expire now")
    def expire(self, request: HttpRequest, queryset: QuerySet[IdentityBlock]) -> None:
        for block in queryset:
            actions.expire_block(block.pk, reason=f"expired by {request.user}")


class CredentialForm(forms.ModelForm[IdentityCredential]):
    password = forms.CharField(widget=forms.PasswordInput(render_value=False), help_text="Stored only as its hashes.")

    class Meta:
        model = IdentityCredential
        fields = ["block", "impu", "username"]

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("block") and data.get("password"):
            row = credentials.CredentialRow(1, data.get("impu", ""), data.get("username", ""), data["password"])
            for error in actions.credential_errors(data["block"], [row]):
                self.add_error(None, error.removeprefix("line 1: "))
        return data


class CredentialsImportForm(forms.Form):
    block = forms.ModelChoiceField(IdentityBlock.objects.unexpired().order_by("name"))
    file = forms.FileField(
        max_length=255, help_text="CSV with the header impu,username,password; one identity per line, UTF-8."
    )

    def clean_file(self) -> list[credentials.CredentialRow]:
        upload = self.cleaned_data["file"]
        if upload.size > 20 * 1024 * 1024:
            raise forms.ValidationError("The file is larger than 20 MB.")
        try:
            return credentials.parse_csv(upload.read().decode("utf-8"))
        except UnicodeDecodeError:
            raise forms.ValidationError("The file is not UTF-8 text.") from None
        except credentials.CredentialsRejected as rejected:
            raise forms.ValidationError(rejected.errors) from None

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if isinstance(data.get("file"), list) and data.get("block"):
            for error in actions.credential_errors(data["block"], data["file"]):
                self.add_error("file", error)
        return data


@admin.register(IdentityCredential)
class CredentialAdmin(admin.ModelAdmin[IdentityCredential]):
    form = CredentialForm
    list_display = ["impu", "username", "block", "realm"]
    search_fields = ["impu", "username"]

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view(self.import_view)
        return [path("import/", view, name="identity_blocks_identitycredential_import"), *super().get_urls()]

    def import_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request) or not self.has_change_permission(request):
            raise PermissionDenied
        form = CredentialsImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            block = form.cleaned_data["block"]
            count = actions.import_identity_credentials(block.pk, form.cleaned_data["file"])
            self.message_user(request, f"Imported the credentials of {count:,} identities of {block}.")
            return redirect("admin:identity_blocks_identitycredential_changelist")
        context = {**self.admin_site.each_context(request), "form": form, "opts": self.opts}
        context["title"] = "Import identity credentials"
        return render(request, "admin/identity_blocks/import_credentials.html", context)

    def save_model(self, request: HttpRequest, obj: IdentityCredential, form: Any, change: bool) -> None:
        saved = actions.set_identity_credentials(
            obj.block_id, impu=obj.impu, username=obj.username, password=form.cleaned_data["password"]
        )
        obj.pk = saved.pk


class LiveFilter(admin.SimpleListFilter):
    title = "live"
    parameter_name = "live"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Live"), ("no", "Released")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "yes":
            return queryset.filter(released_at__isnull=True)
        if self.value() == "no":
            return queryset.filter(released_at__isnull=False)
        return queryset


@admin.register(IdentityAssignment)
class AssignmentAdmin(admin.ModelAdmin[IdentityAssignment]):
    list_display = ["impu", "holder", "block", "registration_state", "registration_error", "assigned_at", "released_at"]
    list_filter = [LiveFilter, "registration_state", "sticky", "block"]
    search_fields = ["impu", "user__username", "user__email"]
    list_select_related = ["user", "block"]
    actions = ["release", "reregister"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # identities are assigned by the portal, never by hand

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="holder")
    def holder(self, assignment: IdentityAssignment) -> str:
        return str(assignment.user) if assignment.user else f"guest {assignment.guest_key[:8]}…"

    @admin.action(description="Release (de-register first)")
    def release(self, request: HttpRequest, queryset: QuerySet[IdentityAssignment]) -> None:
        for assignment in queryset.filter(released_at__isnull=True):
            actions.release_identity(assignment.pk, reason=f"released by {request.user}")

    @admin.action(description="Register again with the IMS")
    def reregister(self, request: HttpRequest, queryset: QuerySet[IdentityAssignment]) -> None:
        for assignment in queryset.filter(released_at__isnull=True):
            actions.request_reregistration(assignment.pk)


@admin.register(IdentityWait)
class WaitAdmin(admin.ModelAdmin[IdentityWait]):
    list_display = ["pk", "user", "guest_key", "created_at", "served_at"]
    list_filter = ["served_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
