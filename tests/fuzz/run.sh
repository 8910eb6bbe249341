#!/bin/sh
# run.sh SECONDS TARGET...: run each libFuzzer target for SECONDS over its
# committed seeds (tests/fuzz/corpus/<t>, read only) plus a scratch corpus
# in build-fuzz/corpus/<t> that grows between runs. One line per target
# with executions and executions per second; a crash keeps its input in
# build-fuzz/ and fails the run.
secs=$1; shift
dir=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$dir/../.." && pwd)
out=$root/build-fuzz
fail=0
for t in "$@"; do
    mkdir -p "$out/corpus/$t"
    log=$out/fuzz_$t.log
    "$out/fuzz_$t" -max_total_time="$secs" -print_final_stats=1 -timeout=10 \
        -rss_limit_mb=2048 -max_len=65536 -artifact_prefix="$out/crash-$t-" \
        "$out/corpus/$t" "$dir/corpus/$t" >"$log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n1)
    if [ $rc -eq 0 ]; then
        printf 'fuzz %-6s %5ss  %10s execs  %7s/s  %s\n' "$t" "$secs" "$runs" "$eps" "$cov"
    else
        fail=1
        printf 'fuzz %-6s FAILED (exit %s): see %s\n' "$t" "$rc" "$log"
        grep -E '^==[0-9]+==ERROR|^SUMMARY|Test unit written' "$log" | head -5
    fi
done
exit $fail
