"""The Celery app the billbridge workers run: `celery -A pipelines.celery_app worker -Q billbridge-0 -c 1`.

Dagster's own worker app (`dagster_celery.app`) reads its broker from DAGSTER_CELERY_BROKER_HOST;
this one reads BILLBRIDGE_CELERY_BROKER like the executor (pipelines/celery_executor.py), so a
worker and the runs it serves never disagree on the broker. One execution slot per worker
(`-c 1`): a shard's entity files then have one writer at a time.
"""

from dagster_celery.executor import CeleryExecutor
from dagster_celery.make_app import make_app
from dagster_celery.tasks import create_task

from pipelines.celery_executor import broker_url

app = make_app(CeleryExecutor.for_cli(broker=broker_url()).app_args())
execute_plan = create_task(app)
