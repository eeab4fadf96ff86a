#!/usr/bin/env bash
# A short libFuzzer run of every fuzz target (cargo-fuzz). Each input gets at
# most 5 s and 1 GiB (bounded time and memory); any crash stops the run and
# leaves the input in fuzz/artifacts/<target>/. Usage: scripts/fuzz.sh [seconds per target]
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds="${1:-20}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
# cargo-fuzz needs nightly flags: a nightly toolchain if installed, else stable
# told to accept them (RUSTC_BOOTSTRAP=1). Safe Rust only, so no sanitizer is needed.
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    fuzz=(cargo +nightly fuzz)
else
    export RUSTC_BOOTSTRAP=1
    fuzz=(cargo fuzz)
fi
# rustix 0.37 (pulled in through lapin's async-io) does not build on current
# nightlies with its raw-syscall backend; its libc backend does.
export RUSTFLAGS="${RUSTFLAGS:-} --cfg rustix_use_libc"
for target in $("${fuzz[@]}" list); do
    echo "== $target ($seconds s)"
    mkdir -p "corpus/$target"
    "${fuzz[@]}" run --sanitizer none "$target" "corpus/$target" -- \
        -max_total_time="$seconds" -timeout=5 -rss_limit_mb=1024 -max_len=65536 -print_final_stats=1 2>&1 \
        | grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|==|SUMMARY|.*(panicked|ERROR|deadly signal))' || true
    # grep above only trims the output; a crash is detected by its artifact.
    if ls "artifacts/$target"/crash-* "artifacts/$target"/timeout-* "artifacts/$target"/oom-* >/dev/null 2>&1; then
        echo "fuzz target $target found a failing input: fuzz/artifacts/$target/"
        exit 1
    fi
done
