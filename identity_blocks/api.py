"""REST API: blocks and agreements for admins; the caller's own identity and colleagues for everyone
logged in."""

from __future__ import annotations

import copy
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import ProtectedError
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser, JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from identity_blocks import actions, credentials, directory
from identity_blocks.holders import Holder
from identity_blocks.models import IdentityAssignment, IdentityBlock, Operator, ServiceAgreement


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


class AdminPermissions(permissions.DjangoModelPermissions):
    """The admin's rule: staff (IsAdminUser, beside it) with the model's permission for what they
    do; viewing takes the view or the change permission, as in the admin."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.method not in permissions.SAFE_METHODS:
            return bool(super().has_permission(request, view))
        user, meta = request.user, view.get_queryset().model._meta
        names = (f"{meta.app_label}.{perm}_{meta.model_name}" for perm in ("view", "change"))
        return bool(user and user.is_authenticated and any(user.has_perm(name) for name in names))


class ChangePermissions(AdminPermissions):
    """For an action that changes an object through a POST (expiring a block)."""

    perms_map = {**AdminPermissions.perms_map, "POST": ["%(app_label)s.change_%(model_name)s"]}


ADMINS = [permissions.IsAdminUser, AdminPermissions]


class RefusesReferencedDeletes:
    """A row others still refer to (on_delete=PROTECT) is not deleted: 409, saying by what."""

    def perform_destroy(self, instance: Any) -> None:
        try:
            with transaction.atomic():
                instance.delete()
        except ProtectedError as protected:
            kinds = sorted({str(type(o)._meta.verbose_name_plural) for o in protected.protected_objects})
            raise Conflict(f"{instance} cannot be deleted: {', '.join(kinds)} still refer to it.") from None


class OperatorSerializer(serializers.ModelSerializer[Operator]):
    class Meta:
        model = Operator
        fields = ["id", "name", "outbound_proxy", "home_domain", "realm"]


class AgreementSerializer(serializers.ModelSerializer[ServiceAgreement]):
    class Meta:
        model = ServiceAgreement
        exclude: list[str] = []
        read_only_fields = ["live_assignments"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """The model's constraints (valid_until after valid_from), checked as the admin checks them."""
        agreement = copy.copy(self.instance) if self.instance is not None else ServiceAgreement()
        for name, value in attrs.items():
            setattr(agreement, name, value)
        try:
            agreement.validate_constraints()
        except DjangoValidationError as error:
            errors = error.message_dict
            raise serializers.ValidationError(
                {api_settings.NON_FIELD_ERRORS_KEY if k == NON_FIELD_ERRORS else k: v for k, v in errors.items()}
            ) from None
        return attrs


class BlockSerializer(serializers.ModelSerializer[IdentityBlock]):
    assigned = serializers.IntegerField(read_only=True, help_text="identities assigned now")
    password = serializers.CharField(
        write_only=True, required=False, max_length=255, help_text="the block's Digest password"
    )

    class Meta:
        model = IdentityBlock
        exclude = ["ha1_md5", "ha1_sha256", "credentials_realm", "sealed_password"]
        read_only_fields = ["size", "next_index", "status", "assigned"]

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if data.get("auth_scheme", getattr(self.instance, "auth_scheme", "")) == "digest_shared":
            try:
                credentials.check_username_template(data.get("auth_username", ""))
            except ValueError as error:
                raise serializers.ValidationError({"auth_username": [str(error)]}) from None
        return data

    def _save(self, block: IdentityBlock, password: str | None) -> IdentityBlock:
        try:
            with transaction.atomic():
                saved = actions.save_block(block)
                if password:
                    actions.set_block_password(saved.pk, password)
        except actions.InvalidDefinition as error:
            raise serializers.ValidationError({"definition": [str(error)]}) from None
        except ValueError as error:
            raise serializers.ValidationError({"password": [str(error)]}) from None
        return saved

    def create(self, validated_data: dict[str, Any]) -> IdentityBlock:
        password = validated_data.pop("password", None)
        return self._save(IdentityBlock(**validated_data), password)

    def update(self, instance: IdentityBlock, validated_data: dict[str, Any]) -> IdentityBlock:
        password = validated_data.pop("password", None)
        for name, value in validated_data.items():
            setattr(instance, name, value)
        return self._save(instance, password)


class CsvParser(BaseParser):
    media_type = "text/csv"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> dict[str, str]:
        try:
            return {"csv": stream.read().decode("utf-8")}
        except UnicodeDecodeError:
            raise ParseError("the CSV file is not UTF-8 text") from None


class CredentialSerializer(serializers.Serializer[Any]):
    impu = serializers.CharField(max_length=255)
    username = serializers.CharField(max_length=255)
    password = serializers.CharField(max_length=255, write_only=True)


class ImportedSerializer(serializers.Serializer[Any]):
    imported = serializers.IntegerField(help_text="identities whose credentials were stored")


REFERRED_TO = OpenApiResponse(description="other rows still refer to it")


@extend_schema(responses={409: REFERRED_TO}, methods=["DELETE"])
class OperatorViewSet(RefusesReferencedDeletes, viewsets.ModelViewSet[Operator]):
    queryset = Operator.objects.order_by("id")
    serializer_class = OperatorSerializer
    permission_classes = ADMINS


@extend_schema(responses={409: REFERRED_TO}, methods=["DELETE"])
class AgreementViewSet(RefusesReferencedDeletes, viewsets.ModelViewSet[ServiceAgreement]):
    queryset = ServiceAgreement.objects.order_by("id")
    serializer_class = AgreementSerializer
    permission_classes = ADMINS


@extend_schema(responses={409: REFERRED_TO}, methods=["DELETE"])
class BlockViewSet(RefusesReferencedDeletes, viewsets.ModelViewSet[IdentityBlock]):
    """A block from which no identity was ever handed out can be deleted; one that has served
    keeps its history (the assignments refer to it) and is expired instead."""

    queryset = IdentityBlock.objects.with_usage().select_related("operator").order_by("id")
    serializer_class = BlockSerializer
    permission_classes = ADMINS

    def perform_destroy(self, instance: IdentityBlock) -> None:
        if instance.assignments.exists():
            raise Conflict(
                f"Identities have been handed out from {instance}; it keeps their history. "
                f"Expire it instead: POST /api/blocks/{instance.pk}/expire."
            )
        super().perform_destroy(instance)

    @extend_schema(request=None, responses={200: BlockSerializer})
    @action(detail=True, methods=["post"], permission_classes=[permissions.IsAdminUser, ChangePermissions])
    def expire(self, request: Request, pk: str | None = None) -> Response:
        """Nothing more is assigned from it; its live identities are de-registered and released."""
        block = self.get_object()
        with transaction.atomic():
            actions.expire_block(block.pk, reason=f"expired by {request.user}")
        return Response(BlockSerializer(self.get_queryset().get(pk=block.pk)).data)

    @extend_schema(
        request={"text/csv": str, "application/json": CredentialSerializer(many=True)},
        responses={200: ImportedSerializer, 400: OpenApiResponse(description="every line that was refused")},
    )
    @action(
        detail=True, methods=["post"], parser_classes=[CsvParser, JSONParser],
        permission_classes=[permissions.IsAdminUser, ChangePermissions],
    )  # fmt: skip
    def credentials(self, request: Request, pk: str) -> Response:
        """Each identity's own Digest credentials, as a CSV file (impu,username,password) or a JSON list;
        all lines or none."""
        block = self.get_object()
        try:
            rows = _credential_rows(request.data)
            count = actions.import_identity_credentials(block.pk, rows)
        except credentials.CredentialsRejected as rejected:
            return Response({"errors": rejected.errors}, status=status.HTTP_400_BAD_REQUEST)
        return Response({"imported": count})


def _said(problem: Any) -> str:
    if isinstance(problem, dict):
        return "; ".join(f"{field}: {' '.join(map(str, said))}" for field, said in problem.items())
    return str(problem)


def _credential_rows(data: Any) -> list[credentials.CredentialRow]:
    if isinstance(data, dict) and isinstance(data.get("csv"), str):
        return credentials.parse_csv(data["csv"])
    listed = CredentialSerializer(data=data, many=True)
    if not listed.is_valid():
        found = listed.errors
        by_index = found.items() if isinstance(found, dict) else enumerate(found)
        errors = [f"line {index + 1}: {_said(problem)}" for index, problem in by_index if isinstance(index, int)]
        raise credentials.CredentialsRejected(errors or ["a list of {impu, username, password} is expected"])
    return [credentials.CredentialRow(n, **row) for n, row in enumerate(listed.validated_data, 1)]


class IdentitySerializer(serializers.ModelSerializer[IdentityAssignment]):
    operator = serializers.CharField(source="block.operator.name")

    class Meta:
        model = IdentityAssignment
        fields = ["impu", "operator", "sticky", "assigned_at", "registration_state", "registration_error"]


class NoIdentitySerializer(serializers.Serializer[Any]):
    detail = serializers.CharField()
    position = serializers.IntegerField()


class MyIdentityView(APIView):
    """The IMS identity of the logged-in user, assigned on first request."""

    @extend_schema(
        responses={200: IdentitySerializer, 503: OpenApiResponse(NoIdentitySerializer, "every identity is taken")}
    )
    def get(self, request: Request) -> Response:
        try:
            assignment = actions.assign_identity(Holder.member(request.user))
        except actions.NoIdentityFree as full:
            body = {"detail": str(full), "position": full.position}
            return Response(
                body, status=status.HTTP_503_SERVICE_UNAVAILABLE, headers={"Retry-After": str(full.retry_after)}
            )
        return Response(IdentitySerializer(assignment).data)


class ColleagueQuerySerializer(serializers.Serializer[Any]):
    q = serializers.CharField(required=False, allow_blank=True, max_length=150, default="")


class ColleagueSerializer(serializers.Serializer[Any]):
    name = serializers.CharField()
    impu = serializers.CharField()


class ColleaguesSerializer(serializers.Serializer[Any]):
    results = ColleagueSerializer(many=True)
    more = serializers.BooleanField(help_text="More colleagues match than are listed: a longer name finds them.")


class MyColleaguesView(APIView):
    """The logged-in member's colleagues whose first, last or user name contains every word of
    `q`, by name, a few at a time (directory.search); nobody for a guest or one of no agreement."""

    LIMIT = 20

    @extend_schema(parameters=[ColleagueQuerySerializer], responses={200: ColleaguesSerializer})
    def get(self, request: Request) -> Response:
        query = ColleagueQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        found = directory.search(Holder.member(request.user), query.validated_data["q"], self.LIMIT + 1)
        body = {"results": found[: self.LIMIT], "more": len(found) > self.LIMIT}
        return Response(ColleaguesSerializer(body).data)
