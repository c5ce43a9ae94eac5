#!/usr/bin/env bash
# Fuzzes sipwall-blocklist's decoders of remote answers (lapi: CrowdSec's
# decision stream, login and alert answers) for SECONDS each (default 60);
# -max_len covers a large stream page. See .ci/fuzz.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec bash "$here/../../../.ci/fuzz" "$here" "${1:-60}" 65536 lapi
