from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.decorators.cache import cache_control
from django.views.decorators.http import last_modified
from django.views.i18n import JSONCatalog
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView

from ims import history
from ims.views import ask_for_identity, my_identity
from portal import health
from portal.catalogue import compiled_at

# Every page of the browser client fetches the catalogue: a browser keeps it an hour, then asks
# again with If-Modified-Since and gets a 304 until a deploy brings a newly compiled catalogue.
# LocaleMiddleware's Vary: Accept-Language keeps the German and English answers apart in caches.
jsi18n = cache_control(max_age=3600)(last_modified(compiled_at)(JSONCatalog.as_view()))

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
    # The browser client's strings (static/js/i18n.js), in the language LocaleMiddleware chose.
    path("jsi18n/", jsi18n, name="jsi18n"),
]

if settings.DEBUG:
    # Uploaded logos in the demo; in production the reverse proxy serves MEDIA_ROOT (see README).
    urlpatterns.append(re_path(r"^media/(?P<path>.*)$", serve, {"document_root": settings.MEDIA_ROOT}))
