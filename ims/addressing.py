"""Which of our identities a request from the core is for (RFC 3261 §8.2.2.1, TS 24.229 §5.1.4).

The Request-URI says whom a request is for, not To: a caller may put anything in To (sipp's
built-in caller puts the proxy's address there). The core usually rewrites the Request-URI to the
Contact we registered, `sip:<user part of the identity>@<our address>` (UserAgent.contact_for), so:
1. a Request-URI that names an identity (not our own address) is the one called;
2. one that is our Contact maps back, by its user part, to the identity that registered it;
3. else P-Called-Party-ID, where the core states the identity called (RFC 3455 §4.2);
4. To last.

Who a request is from is what the core asserts in P-Asserted-Identity (RFC 3325), never From, which
the sender writes as it likes; the IMS side takes requests only from its proxies (ims.trust), so an
assertion it reads is the core's. A request the core asserted no identity for is from anonymous.
"""

from __future__ import annotations

from collections import defaultdict

from sip.headers import NameAddr
from sip.message import Request, SipParseError
from sip.uri import InvalidUri, SipUri, parse_uri


def _user(identity: str) -> str:
    """The user part contact_for puts in our Contact for `identity`."""
    return identity.split(":", 1)[1].split("@", 1)[0]


class ContactUsers:
    """The identities registered from this process, by the user part of their Contact."""

    def __init__(self) -> None:
        self._by_user: defaultdict[str, set[str]] = defaultdict(set)

    def add(self, identity: str) -> None:
        self._by_user[_user(identity)].add(identity)

    def discard(self, identity: str) -> None:
        user = _user(identity)
        self._by_user[user].discard(identity)
        if not self._by_user[user]:
            del self._by_user[user]

    def identity(self, user: str) -> str | None:
        """The one identity reached at Contacts with this user part; None if none or several (two
        domains' identities with the same user part share a Contact: then the core must say)."""
        found = self._by_user.get(user, set())
        return next(iter(found)) if len(found) == 1 else None


def called_identity(request: Request, our_host: str, contacts: ContactUsers) -> str:
    """The identity `request` is for, by the rules above; our_host is the address in our Contacts."""
    try:
        target = parse_uri(request.uri)
    except InvalidUri:
        target = None
    if not isinstance(target, SipUri):
        if target is not None:
            return str(target)  # a tel URI names an identity (RFC 3966)
    elif target.host != our_host.lower():
        return target.address_of_record
    elif target.user and (mapped := contacts.identity(target.user)):
        return mapped
    try:
        return NameAddr.parse(request.get("P-Called-Party-ID") or request["To"]).uri
    except SipParseError:  # To was checked on arrival; a malformed P-Called-Party-ID says nothing
        return NameAddr.parse(request["To"]).uri


ANONYMOUS = "sip:anonymous@anonymous.invalid"  # RFC 3323 §4.1.1.3


def asserted_identity(request: Request) -> str:
    """The sender the core asserts: the first P-Asserted-Identity that parses (a SIP URI before a
    tel URI where it gives both, RFC 3325 §9.1); anonymous where it asserts none."""
    asserted: list[str] = []
    for value in request.get_all("P-Asserted-Identity"):
        try:
            asserted.append(NameAddr.parse(value).uri)
        except SipParseError:
            continue
    sip = [uri for uri in asserted if uri.lower().startswith(("sip:", "sips:"))]
    return (sip or asserted or [ANONYMOUS])[0]
