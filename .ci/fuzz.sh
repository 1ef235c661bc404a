#!/usr/bin/env bash
# Fuzzing: each cargo-fuzz target runs for a short bounded time from its
# corpus in fuzz/corpus/<target>. Run longer by hand with FUZZ_SECONDS=3600.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

if ! command -v cargo-fuzz >/dev/null; then
  cargo install cargo-fuzz --locked --version 0.13.2
fi

seconds="${FUZZ_SECONDS:-20}"
for target in frame_decode invite_parse doc_import http_json; do
  mkdir -p "corpus/$target"
  # No sanitizer: the targets are safe Rust; libFuzzer still catches panics,
  # timeouts and memory past the limit.
  cargo +nightly fuzz run --sanitizer none -O "$target" "corpus/$target" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10
done
