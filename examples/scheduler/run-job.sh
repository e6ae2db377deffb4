#!/bin/sh
# run-job.sh runs one privagg job for a scheduler (cron, a systemd timer, an
# Airflow BashOperator) and passes privagg's exit code on unchanged:
#
#   0    published, or re-published at no cost (a re-run of a stored release)
#   2    config_error    the job file or a flag is wrong: fix it, do not retry
#   3    budget_refused  the dataset's budget cannot pay: an officer decides
#   4    input_rejected  too many malformed rows: fix the input
#   1    runtime_error   anything else (disk, ledger lock, ...): retry later
#   130, 143             interrupted (SIGINT, SIGTERM): retry later
#   75   another run of the same job still holds the lock (EX_TEMPFAIL)
#
# The run's `privagg run --format json` result is written to RESULT.json
# (default: privagg-last-run.json beside the job file) for whatever runs
# next; its error_class names the case above. One run at a time per result
# file: flock(1), from util-linux (on macOS: brew install flock).
#
# Usage: run-job.sh JOB.yaml [RESULT.json]
# Environment: PRIVAGG, the privagg binary (default: privagg on PATH).
set -u

job=${1:?usage: run-job.sh JOB.yaml [RESULT.json]}
result=${2:-$(dirname -- "$job")/privagg-last-run.json}
privagg=${PRIVAGG:-privagg}

exec 9>"$result.lock"
if ! flock -n 9; then
	echo "run-job.sh: another run of $job still holds $result.lock" >&2
	exit 75
fi

"$privagg" run "$job" --format json >"$result.tmp"
code=$?
mv -f -- "$result.tmp" "$result"

# field KEY prints a top-level string field of the result ("" for null).
field() {
	sed -n "s/^  \"$1\": \"\(.*\)\",\{0,1\}\$/\1/p" "$result"
}

status=$(field status)
class=$(field error_class)
case $code in
0) echo "run-job.sh: $job: $status (release $(field release_id))" ;;
3) echo "run-job.sh: $job: $class: the budget cannot pay for this run; ask the privacy officer (privagg budget show)" >&2 ;;
2 | 4) echo "run-job.sh: $job: $class: fix the job or its input before the next run; see $result" >&2 ;;
*) echo "run-job.sh: $job: ${class:-failed} (exit $code): retry later; see $result" >&2 ;;
esac
exit "$code"
