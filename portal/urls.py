from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView

from ims import history
from ims.views import ask_for_identity, my_identity
from portal import health

urlpatterns = [
    path("", include("help_desk.urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("identity/", my_identity, name="my-identity-page"),
    path("identity/ask/", ask_for_identity, name="ask-for-identity"),
    path("identity/messages/", history.conversations, name="conversations"),
    path("identity/messages/with/", history.conversation, name="conversation"),
    path("identity/calls/", history.calls, name="call-log"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/", include("identity_blocks.urls")),
    path("healthz", health.healthz, name="healthz"),
]

if settings.DEBUG:
    # Uploaded logos in the demo; in production the reverse proxy serves MEDIA_ROOT (see README).
    urlpatterns.append(re_path(r"^media/(?P<path>.*)$", serve, {"document_root": settings.MEDIA_ROOT}))
