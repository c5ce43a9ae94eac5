#!/usr/bin/env bash
# Fuzzes discovery on one file (preprocessor and switch_xml.c's grammar)
# for SECONDS (default 60) from the committed seeds. Needs cargo-fuzz;
# without a nightly toolchain it runs on stable with no sanitizer.
set -euo pipefail
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    fuzz=(cargo +nightly fuzz run)
else
    echo "== no nightly toolchain: fuzzing on stable, without a sanitizer"
    export RUSTC_BOOTSTRAP=1
    fuzz=(cargo fuzz run --sanitizer none)
fi
seconds="${1:-60}"
cd "$(dirname "${BASH_SOURCE[0]}")"
mkdir -p corpus/discover
"${fuzz[@]}" discover corpus/discover seeds/discover -- \
    -max_total_time="$seconds" -malloc_limit_mb=512 -max_len=65536
