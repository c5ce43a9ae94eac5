#!/usr/bin/env bash
# Fuzzes discovery on one freeswitch.xml (the preprocessor and
# switch_xml.c's grammar) for SECONDS (default 60). See .ci/fuzz.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MALLOC_MB=512 exec bash "$here/../../../.ci/fuzz" "$here" "${1:-60}" 65536 discover
