#!/usr/bin/env bash
# Runs every fuzz target of sipwall-sip for SECONDS each (default 60) with
# the committed seeds and the RFC 4475 messages as extra read-only corpora.
# Works from any directory. Needs cargo-fuzz; with the nightly toolchain the
# targets run under AddressSanitizer, without it on stable with no sanitizer
# (libFuzzer's coverage and the panic checks still apply).
set -euo pipefail
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    fuzz=(cargo +nightly fuzz run)
else
    echo "== no nightly toolchain: fuzzing on stable, without a sanitizer"
    export RUSTC_BOOTSTRAP=1
    fuzz=(cargo fuzz run --sanitizer none)
fi
seconds="${1:-60}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
rfc4475="$(cd "$here/../../../../shared/testdata/rfc4475" 2>/dev/null && pwd || true)"
cd "$here"
status=0
for target in message framing sdp usual; do
    # The first corpus directory is where libFuzzer writes; keep it out of git.
    mkdir -p "corpus/$target"
    dirs=("corpus/$target" "seeds/$target")
    if [ -n "$rfc4475" ]; then
        dirs+=("$rfc4475")
    fi
    echo "== fuzz $target for ${seconds}s: ${dirs[*]}"
    # -malloc_limit_mb catches unbounded allocation; -max_len covers a
    # 64 KiB datagram.
    if ! "${fuzz[@]}" "$target" "${dirs[@]}" -- \
        -max_total_time="$seconds" -max_len=65536 -malloc_limit_mb=256 \
        -rss_limit_mb=1024 -print_final_stats=1; then
        echo "== fuzz $target FAILED (see artifacts/$target)"
        status=1
    fi
done
exit $status
