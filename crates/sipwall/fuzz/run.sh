#!/usr/bin/env bash
# Runs every fuzz target of the daemon's input parsers (the control
# protocol, crates/control) for SECONDS each (default 60) with the
# committed seeds.
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
cd "$here"
status=0
for target in control_request; do
    # The first corpus directory is where libFuzzer writes; keep it out of git.
    mkdir -p "corpus/$target"
    dirs=("corpus/$target" "seeds/$target")
    echo "== fuzz $target for ${seconds}s: ${dirs[*]}"
    # -malloc_limit_mb catches unbounded allocation; -max_len goes past
    # the 64 KiB request cap so the refusal is fuzzed too.
    if ! "${fuzz[@]}" "$target" "${dirs[@]}" -- \
        -max_total_time="$seconds" -max_len=70000 -malloc_limit_mb=256 \
        -rss_limit_mb=1024 -print_final_stats=1; then
        echo "== fuzz $target FAILED (see artifacts/$target)"
        status=1
    fi
done
exit $status
