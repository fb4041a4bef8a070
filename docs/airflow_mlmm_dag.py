"""An Airflow DAG that runs mlmm's monitoring from Airflow instead of cron (docs/scheduling.md).

Every 15 minutes (the seeds' degradation check), it

- runs the alert rules through mlmm's own schedule (``mlmm schedule run performance``), so the
  run is locked, recorded in ``schedule_runs`` and listed by ``mlmm schedule runs``; and
- runs the monitoring report notebook for each model with Papermill, writing the executed
  notebook under ``reports/airflow/<day>/``; the notebook records its verdict and its decision
  in the model's registry history (``mlmm decisions`` lists them).

Set up, once:

1. Copy this file into Airflow's ``dags/`` folder and set ``PROJECT`` below.
2. Install ``apache-airflow-providers-papermill`` where the Airflow workers run.
3. Create the kernel the notebooks run on (the project's interpreter, with mlmm):
   ``/path/to/project/.venv/bin/python -c "import mlmm.reports.kernel; mlmm.reports.kernel.ensure_kernel()"``,
   and let the workers find it: ``JUPYTER_PATH=/path/to/project/.venv/share/jupyter`` in
   their environment.
4. Keep ``mlmm schedule run-due`` from running the same jobs: in the workspace's
   ``mlmm.toml`` set ``enabled = false`` under ``[schedule.performance]`` and
   ``[schedule.degradation]`` (``mlmm schedule run JOB`` still runs a disabled job).

A ``BashOperator`` with ``mlmm report run monitoring_report -p model NAME`` is the alternative
to Papermill: it also writes ``report.html`` and ``result.json`` and lists the run in
``reports/index.html``.
"""

from __future__ import annotations

import datetime as dt

import pendulum
from airflow import DAG
from airflow.providers.papermill.operators.papermill import PapermillOperator

try:  # Airflow 3: the standard operators live in a provider
    from airflow.providers.standard.operators.bash import BashOperator
except ImportError:  # Airflow 2
    from airflow.operators.bash import BashOperator

PROJECT = "/path/to/project"
WORKSPACE = f"{PROJECT}/data/workspace"
REPORTS = f"{PROJECT}/reports"
MLMM = f"{PROJECT}/.venv/bin/mlmm"
MODELS = ("n1-detector", "waf-behavioral", "queue-anomaly")

with DAG(
    dag_id="mlmm_monitoring",
    description="mlmm alert rules and monitoring reports for the production models",
    schedule="*/15 * * * *",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 1, "retry_delay": dt.timedelta(minutes=2)},
    tags=["mlmm"],
) as dag:
    # exit 1 when the job failed, so the task fails; a run already going elsewhere is skipped
    performance = BashOperator(
        task_id="alert_rules",
        bash_command=f"cd {PROJECT} && {MLMM} schedule run performance -w {WORKSPACE} -o {REPORTS}",
    )

    # Papermill refuses to write into a folder that does not exist
    report_dir = BashOperator(task_id="report_dir", bash_command=f"mkdir -p {REPORTS}/airflow/" + "{{ ds }}")

    for model in MODELS:
        report = PapermillOperator(
            task_id=f"monitoring_report_{model.replace('-', '_')}",
            input_nb=f"{PROJECT}/notebooks/monitoring_report.ipynb",
            output_nb=f"{REPORTS}/airflow/" + "{{ ds }}/monitoring_report-" + model + "-{{ ts_nodash }}.ipynb",
            parameters={"workspace": WORKSPACE, "model": model, "window": "24h", "record": True},
            kernel_name="mlmm",
        )
        report_dir >> report  # the alert rules run beside the reports: one failing does not hold the other
