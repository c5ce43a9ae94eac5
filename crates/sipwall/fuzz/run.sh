#!/usr/bin/env bash
# Fuzzes the control socket's request reader (control_request) for SECONDS
# (default 60); -max_len goes past the 64 KiB request cap so the refusal
# is fuzzed too. See .ci/fuzz.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec bash "$here/../../../.ci/fuzz" "$here" "${1:-60}" 70000 control_request
