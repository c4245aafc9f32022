"""Where an agreement's identities may send messages and place calls (toll fraud is the risk: a
leased operator identity reaching any number on the operator's bill). On-net is always open: a
SIP URI in the operator's home domain that is not a telephone number. Everything else only as the
agreement lists it: SIP domains (with their subdomains) and E.164 number prefixes."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.utils.functional import Promise
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from sip.uri import InvalidUri, SipUri, TelUri, is_in_domain, parse_uri

_DOMAIN = re.compile(r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
_PREFIX = re.compile(r"\+[0-9]{1,15}")


def listed(text: str) -> list[str]:
    """A comma- or whitespace-separated list, lower-case, without blanks."""
    return [item for item in re.split(r"[\s,]+", text.strip().lower()) if item]


def validate_domains(text: str) -> None:
    wrong = [item for item in listed(text) if not _DOMAIN.fullmatch(item)]
    if wrong:
        raise ValidationError(f"Not a domain name: {', '.join(wrong)}.")


def validate_prefixes(text: str) -> None:
    wrong = [item for item in listed(text) if not _PREFIX.fullmatch(item)]
    if wrong:
        raise ValidationError(f"Not an E.164 prefix (+ and digits): {', '.join(wrong)}.")


def number_of(uri: SipUri | TelUri) -> str | None:
    """The telephone number a URI dials: a tel URI, or a SIP URI with user=phone (RFC 3261 §19.1.1)."""
    if isinstance(uri, TelUri):
        return uri.number
    if uri.params.get("user") == "phone" and uri.user:
        return re.sub(r"[-.()]", "", uri.user.split(";", 1)[0])
    return None


def refusal(to: str, home_domain: str, domains: str, prefixes: str) -> str | Promise | None:
    """Why an identity of this operator and agreement may not reach `to`, or None when it may."""
    try:
        uri = parse_uri(to.strip())
    except InvalidUri as error:
        return str(error)
    number = number_of(uri)
    if number is not None:
        if any(number.startswith(prefix) for prefix in listed(prefixes)):
            return None
        return format_lazy(_("the agreement does not allow calls or messages to {number}"), number=number)
    assert isinstance(uri, SipUri)
    if any(is_in_domain(uri.host, domain) for domain in [home_domain, *listed(domains)]):
        return None
    return format_lazy(_("the agreement does not allow calls or messages to the domain {domain}"), domain=uri.host)
