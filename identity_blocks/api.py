"""REST API: blocks and agreements for admins; the caller's own identity for everyone logged in."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import permissions, serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from identity_blocks import actions
from identity_blocks.holders import Holder
from identity_blocks.models import IdentityAssignment, IdentityBlock, Operator, ServiceAgreement


class OperatorSerializer(serializers.ModelSerializer[Operator]):
    class Meta:
        model = Operator
        fields = ["id", "name", "outbound_proxy", "home_domain", "realm"]


class AgreementSerializer(serializers.ModelSerializer[ServiceAgreement]):
    class Meta:
        model = ServiceAgreement
        exclude: list[str] = []
        read_only_fields = ["live_assignments"]


class BlockSerializer(serializers.ModelSerializer[IdentityBlock]):
    assigned = serializers.IntegerField(read_only=True, help_text="identities assigned now")

    class Meta:
        model = IdentityBlock
        exclude = ["ha1_md5", "ha1_sha256", "credentials_realm"]
        read_only_fields = ["size", "next_index", "status", "assigned"]

    def _save(self, block: IdentityBlock) -> IdentityBlock:
        try:
            return actions.save_block(block)
        except actions.InvalidDefinition as error:
            raise serializers.ValidationError({"definition": [str(error)]}) from None

    def create(self, validated_data: dict[str, Any]) -> IdentityBlock:
        return self._save(IdentityBlock(**validated_data))

    def update(self, instance: IdentityBlock, validated_data: dict[str, Any]) -> IdentityBlock:
        for name, value in validated_data.items():
            setattr(instance, name, value)
        return self._save(instance)


class OperatorViewSet(viewsets.ModelViewSet[Operator]):
    queryset = Operator.objects.order_by("id")
    serializer_class = OperatorSerializer
    permission_classes = [permissions.IsAdminUser]


class AgreementViewSet(viewsets.ModelViewSet[ServiceAgreement]):
    queryset = ServiceAgreement.objects.order_by("id")
    serializer_class = AgreementSerializer
    permission_classes = [permissions.IsAdminUser]


class BlockViewSet(viewsets.ModelViewSet[IdentityBlock]):
    queryset = IdentityBlock.objects.with_usage().select_related("operator").order_by("id")
    serializer_class = BlockSerializer
    permission_classes = [permissions.IsAdminUser]

    def perform_destroy(self, instance: IdentityBlock) -> None:
        with transaction.atomic():
            actions.expire_block(instance.pk, reason="block deleted")
            if not instance.assignments.exists():
                instance.delete()


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
