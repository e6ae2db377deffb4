"""privagg's weekly release as a Dagster asset (Dagster 1.5+).

The asset runs `privagg run --format json` and reads the JSON whatever the
exit code: a published or re-published release materializes the asset with
its outputs and the budget left as metadata; a refusal (config_error,
budget_refused, input_rejected) fails without retry; a runtime error or an
interruption raises, so that the run's retry policy applies.

    dagster dev -f examples/scheduler/dagster_asset.py
"""

import json
import os
import subprocess

from dagster import (
    Definitions,
    Failure,
    MaterializeResult,
    MetadataValue,
    RetryPolicy,
    ScheduleDefinition,
    asset,
    define_asset_job,
)

PRIVAGG = os.environ.get("PRIVAGG", "privagg")
JOB = os.environ.get("PRIVAGG_JOB", "examples/scheduler/weekly.yaml")

# Outcomes a retry cannot change.
REFUSALS = {"config_error", "budget_refused", "input_rejected"}


@asset(retry_policy=RetryPolicy(max_retries=2, delay=900))
def privagg_weekly(context) -> MaterializeResult:
    proc = subprocess.run([PRIVAGG, "run", JOB, "--format", "json"], capture_output=True, text=True)
    result = json.loads(proc.stdout)
    cls = result["error_class"]
    if cls in REFUSALS:
        # allow_retries=False: the budget or the job needs a person.
        raise Failure(description=f"privagg {cls} (exit {proc.returncode}): {result.get('error', '')}", allow_retries=False)
    if cls is not None:
        raise RuntimeError(f"privagg {cls} (exit {proc.returncode}): {result.get('error', '')}")
    context.log.info("privagg %s release %s", result["status"], result["release_id"])
    return MaterializeResult(
        metadata={
            "release_id": result["release_id"],
            "status": result["status"],
            "rows_read": result["rows_read"],
            "rows_rejected": result["rows_rejected"],
            "epsilon_charged": result["charge"]["epsilon"],
            "epsilon_remaining": result["epsilon_remaining"],
            "outputs": MetadataValue.json(result["outputs"]),
            "report": MetadataValue.path(result["report"] or ""),
        }
    )


weekly = define_asset_job("privagg_weekly_job", selection=[privagg_weekly])
defs = Definitions(
    assets=[privagg_weekly],
    jobs=[weekly],
    schedules=[ScheduleDefinition(job=weekly, cron_schedule="0 6 * * 1")],
)
