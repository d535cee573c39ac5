"""Every entry of the beat schedule can be sent: Celery accepts the task with its options and
arguments (a task whose time limit is below the global soft limit is refused at sending, every
time the beat fires it, while the worker and the tests that call the task directly never see it)."""

from __future__ import annotations

import pytest
from django.conf import settings

from portal.celery import app


@pytest.mark.parametrize("entry", sorted(settings.CELERY_BEAT_SCHEDULE))
def test_the_beat_can_send_every_scheduled_task(entry, monkeypatch):
    scheduled = settings.CELERY_BEAT_SCHEDULE[entry]
    sent = []
    # Celery's checks run in apply_async, before the message goes to the broker: only the
    # sending itself is replaced.
    monkeypatch.setattr(app, "send_task", lambda name, *args, **kwargs: sent.append(name))
    app.loader.import_default_modules()  # the apps' tasks modules, as the worker and beat do
    task = app.tasks[scheduled["task"]]
    task.apply_async(
        scheduled.get("args", ()),
        scheduled.get("kwargs", {}),
        **scheduled.get("options", {}),
    )
    assert sent == [scheduled["task"]]
