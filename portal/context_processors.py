from django.conf import settings
from django.http import HttpRequest


def site(request: HttpRequest) -> dict[str, object]:
    # In a site's help panel (an iframe, as the browser says) the portal's own bar has no place:
    # its links lead to pages that may not be framed.
    return {"SITE_NAME": settings.SITE_NAME, "framed": request.headers.get("Sec-Fetch-Dest") == "iframe"}
