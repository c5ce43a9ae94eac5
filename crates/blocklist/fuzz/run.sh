#!/usr/bin/env bash
# Fuzzes sipwall-blocklist's decoders of what remote services send (lapi:
# CrowdSec's decision stream, login and alert answers; apiban: APIBAN pages;
# list: plain lists) for SECONDS each (default 60); -max_len covers a large
# page. See .ci/fuzz.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec bash "$here/../../../.ci/fuzz" "$here" "${1:-60}" 1048576 lapi apiban list
