#!/usr/bin/env bash
# Fuzzes sipwall-blocklist's decoders of what remote services send
# (APIBAN pages, plain lists) for SECONDS each (default 60). See .ci/fuzz.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec bash "$here/../../../.ci/fuzz" "$here" "${1:-60}" 1048576 apiban list
