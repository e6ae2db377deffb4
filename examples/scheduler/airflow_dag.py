"""privagg's weekly release as an Airflow DAG (Airflow 2.4+).

One BashOperator runs the job through run-job.sh, which writes privagg's
`run --format json` result to a file; the task then prints that result on
one line, so that Airflow pushes it to XCom. The exit code decides what
fails the task: 1 (runtime error) and 130/143 (interrupted) fail it, so
Airflow retries; 0, 2, 3 and 4 are outcomes a retry cannot change, so the
task succeeds and a branch reads error_class from the JSON:

    published / re-published -> notify_analysts
    budget_refused           -> ask_privacy_officer
    config_error, input_rejected -> fix_job_or_input (fails, for a person)

Copy this file to your dags/ folder and set PRIVAGG_HOME to the folder with
examples/scheduler and the job (see weekly.yaml).
"""

import json
import os
from datetime import datetime, timedelta

from airflow import DAG
from airflow.exceptions import AirflowFailException
from airflow.operators.bash import BashOperator
from airflow.operators.empty import EmptyOperator
from airflow.operators.python import BranchPythonOperator, PythonOperator

PRIVAGG_HOME = os.environ.get("PRIVAGG_HOME", "/srv/privagg")
JOB = "examples/scheduler/weekly.yaml"
RESULT = "/tmp/privagg-weekly-{{ ts_nodash }}.json"

# Exit codes that no retry can change: the task succeeds and the branch
# below decides from error_class.
FINAL_CODES = "0|2|3|4"

RUN = f"""
cd {PRIVAGG_HOME}
sh examples/scheduler/run-job.sh {JOB} {RESULT}
code=$?
python3 -c 'import json, sys; print(json.dumps(json.load(open(sys.argv[1]))))' {RESULT}
case $code in {FINAL_CODES}) exit 0 ;; *) exit $code ;; esac
"""


def choose(ti):
    """Branches on the run's JSON (pushed to XCom by run_privagg)."""
    result = json.loads(ti.xcom_pull(task_ids="run_privagg"))
    cls = result["error_class"]
    if cls is None:
        return "notify_analysts"
    if cls == "budget_refused":
        return "ask_privacy_officer"
    return "fix_job_or_input"


def fix_job_or_input(ti):
    result = json.loads(ti.xcom_pull(task_ids="run_privagg"))
    raise AirflowFailException(f"privagg {result['error_class']} (exit {result['exit_code']}): {result.get('error', '')}")


with DAG(
    dag_id="privagg_weekly",
    start_date=datetime(2026, 1, 5),
    schedule="0 6 * * 1",
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=15)},
) as dag:
    run = BashOperator(task_id="run_privagg", bash_command=RUN, do_xcom_push=True)
    branch = BranchPythonOperator(task_id="branch_on_error_class", python_callable=choose)
    notify = EmptyOperator(task_id="notify_analysts")  # e.g. a Slack message with the outputs
    officer = EmptyOperator(task_id="ask_privacy_officer")  # e.g. an email: budget show / budget set
    fix = PythonOperator(task_id="fix_job_or_input", python_callable=fix_job_or_input, retries=0)
    run >> branch >> [notify, officer, fix]
