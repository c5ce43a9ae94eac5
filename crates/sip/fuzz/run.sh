#!/usr/bin/env bash
# Fuzzes sipwall-sip's parsers (message, framing, sdp, and the usual-path
# checker) for SECONDS each (default 60), with the RFC 4475 messages as an
# extra corpus; -max_len covers a 64 KiB datagram. See .ci/fuzz.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec bash "$here/../../../.ci/fuzz" "$here" "${1:-60}" 65536 message framing sdp usual \
    -- "$here/../../../../shared/testdata/rfc4475"
