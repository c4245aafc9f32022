from django.urls import include, path
from rest_framework.routers import DefaultRouter

from identity_blocks import api

router = DefaultRouter(trailing_slash=False)
router.register("operators", api.OperatorViewSet)
router.register("agreements", api.AgreementViewSet)
router.register("blocks", api.BlockViewSet)

urlpatterns = [
    path("me/identity", api.MyIdentityView.as_view(), name="my-identity"),
    path("me/colleagues", api.MyColleaguesView.as_view(), name="my-colleagues"),
    path("", include(router.urls)),
]
