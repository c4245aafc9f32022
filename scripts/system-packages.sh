#!/usr/bin/env bash
# The Debian packages the tests drive as real peers: a browser, the IMS core, SIP endpoints, the
# TURN relay (coturn), the media gateway (rtpengine), and gettext for the translations' catalogues.
# As root on Debian they are installed when missing; elsewhere the list is printed.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
packages=(chromium kamailio kamailio-websocket-modules sip-tester coturn rtpengine-daemon gettext)
command -v dpkg-query >/dev/null 2>&1 || { log "not Debian: install ${packages[*]} yourself"; exit 0; }
apt_install "${packages[@]}" || log "tests that need these will fail under CI=true"
