"""The Celery app. Workers on queue `ami` hold the PBX links (see telephony/hosting.py).

Run them as `celery -A config worker -Q ami` (plus any other queues). The pool defaults to
threads here: a task on `ami.<pbx_id>` must run in the process that owns that PBX's socket,
which a prefork child does not. Set CELERY_WORKER_POOL to override for other workers.
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery, bootsteps

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("switchboard")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.worker_pool = os.environ.get("CELERY_WORKER_POOL", "threads")
# An operation that rings a phone (click-to-call, pickup, spy, unhold) holds its thread until
# the OriginateResponse, up to SWITCHBOARD_ORIGINATE_TIMEOUT: threads mostly wait, so many.
app.conf.worker_concurrency = int(os.environ.get("CELERY_WORKER_CONCURRENCY", "32"))
app.autodiscover_tasks()


class AmiLinks(bootsteps.StartStopStep):
    """Lease per PBX + its runner, in workers consuming `ami` (telephony.hosting).

    A consumer step: it starts once the broker connection is up, and a consumer restart
    (lost broker connection) stops the links, as the lease cannot be renewed then anyway.
    Imports telephony lazily: this module loads with the settings, before Django is set up.
    """

    requires = {"celery.worker.consumer.tasks:Tasks"}

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self.keeper: Any = None

    def start(self, c: Any) -> None:
        from telephony.hosting import worker_start

        self.keeper = worker_start(c)

    def stop(self, c: Any) -> None:
        from telephony.hosting import worker_stop

        keeper, self.keeper = self.keeper, None
        worker_stop(keeper)

    def shutdown(self, c: Any) -> None:
        self.stop(c)


app.steps["consumer"].add(AmiLinks)
