from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

HELP_MODES = [
    ("chat", "Chat", "Type with an advisor."),
    ("voice", "Voice", "Talk with an advisor."),
    ("video", "Video", "See and talk with an advisor."),
]
PRIVACY_MODES = [
    ("unsecured", "Standard", "Carried by the operator's IMS network."),
    ("secure", "Secure", "End to end between your browser and the advisor's; the portal cannot read it."),
]


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html")


def help_page(request: HttpRequest) -> HttpResponse:
    return render(request, "help_desk/help.html", {"modes": HELP_MODES, "privacy_modes": PRIVACY_MODES})
