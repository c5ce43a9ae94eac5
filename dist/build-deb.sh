#!/usr/bin/env bash
# Builds the Debian package: the stripped release binary, man pages and
# shell completions generated from it, the units, docs and the example
# policy (the assets list is [package.metadata.deb] in crates/sipwall).
# Prints the package's path on the last line.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo-deb >/dev/null 2>&1 || cargo install --locked cargo-deb
cargo build --release --locked -p sipwall
target=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
bin=$target/release/sipwall
out=$target/release/dist
rm -rf "$out"
mkdir -p "$out/man" "$out/completions"
"$bin" __man-pages "$out/man"
gzip -9n "$out"/man/*.8
"$bin" completions bash > "$out/completions/sipwall.bash"
"$bin" completions zsh > "$out/completions/_sipwall"
"$bin" completions fish > "$out/completions/sipwall.fish"
cargo deb -p sipwall --no-build --no-strip --output "$target/debian/" | tail -n 1
