#!/usr/bin/env bash
# Fuzzes the policy text that reaches nft and iptables (policy_text) for
# SECONDS (default 60); a policy file is small, -max_len keeps runs fast.
# See .ci/fuzz.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec bash "$here/../../../.ci/fuzz" "$here" "${1:-60}" 4096 policy_text
