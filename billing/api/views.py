"""Billing endpoints under /api/v1/workspaces/{slug}/: usage, Checkout, billing portal. Thin."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from billing import checkout, selectors
from billing.api import serializers as s
from workspaces.api.base import WorkspaceScopedMixin
from workspaces.models import Role


class UsageView(WorkspaceScopedMixin, GenericAPIView):
    """The workspace's plan, its limits, and usage in the current billing period with remaining quota."""

    serializer_class = s.UsageSerializer

    @extend_schema(responses=s.UsageSerializer)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(s.UsageSerializer(selectors.usage_overview(self.workspace.pk)).data)


class CheckoutSessionView(WorkspaceScopedMixin, GenericAPIView):
    """Start a Stripe Checkout for an upgrade to a paid plan; redirect the user to `url`."""

    serializer_class = s.CheckoutRequestSerializer
    write_role = Role.ADMIN

    @extend_schema(request=s.CheckoutRequestSerializer, responses={201: s.SessionSerializer})
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = s.CheckoutRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        session = checkout.create_checkout_session(
            workspace=self.workspace, plan=data.validated_data["plan"], email=getattr(request.user, "email", "")
        )
        return Response(s.SessionSerializer(session).data, status=status.HTTP_201_CREATED)


class PortalSessionView(WorkspaceScopedMixin, GenericAPIView):
    """A Stripe billing-portal URL where owners and admins manage payment, plan and cancellation."""

    serializer_class = s.SessionSerializer
    write_role = Role.ADMIN

    @extend_schema(request=None, responses={201: s.SessionSerializer})
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        session = checkout.create_portal_session(workspace=self.workspace)
        return Response(s.SessionSerializer(session).data, status=status.HTTP_201_CREATED)
