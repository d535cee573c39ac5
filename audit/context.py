"""Who is acting, from where, in which request: captured once, read by every audit event.

Web requests fill it through `audit.middleware.AuditContextMiddleware`; Celery tasks and
management commands through `acting_as(...)`, with the task or command as the actor and a request
id of their own. Context variables keep concurrent requests and threads apart.
"""

from __future__ import annotations

import contextvars
import functools
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class AuditContext:
    actor_id: int | None = None
    actor_username: str = ""
    client_ip: str = ""
    user_agent: str = ""
    workstation_id: str = ""
    request_id: str = ""


# The default is a frozen (immutable) dataclass, so sharing it between contexts is safe.
_EMPTY = AuditContext()
_current: contextvars.ContextVar[AuditContext] = contextvars.ContextVar(
    "audit_context",
    default=_EMPTY,  # noqa: B039
)


def new_request_id() -> str:
    return uuid.uuid4().hex


def current_context() -> AuditContext:
    return _current.get()


@contextmanager
def bound_context(context: AuditContext) -> Iterator[AuditContext]:
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)


@contextmanager
def acting_as(actor_label: str, *, request_id: str | None = None) -> Iterator[AuditContext]:
    """The context of a Celery task or management command: `actor_label` is, for instance,
    `task:recordings.tasks.purge_expired_recordings` or `command:seed_demo`."""
    context = AuditContext(actor_username=actor_label, request_id=request_id or new_request_id())
    with bound_context(context) as bound:
        yield bound


def with_user(user) -> AuditContext:
    """The current context, with `user` as the actor (used once a login has succeeded)."""
    return replace(current_context(), actor_id=user.pk, actor_username=user.get_username())


@contextmanager
def acting_for(user) -> Iterator[AuditContext]:
    """Inside a service given an explicit `actor`: the events it writes name that person when no
    request (or sign-in) has bound one already, as in a task, a command or a shell. An actor that
    is no person (None, or a label such as "api_key:…"), or a context that already names a
    person, leaves the context as it is."""
    if getattr(user, "pk", None) is None or current_context().actor_id is not None:
        yield current_context()
        return
    with bound_context(with_user(user)) as bound:
        yield bound


def names_its_actor(service):
    """For a service taking `actor=`: its events name the actor outside a request (acting_for)."""

    @functools.wraps(service)
    def service_for_actor(*args, **kwargs):
        with acting_for(kwargs.get("actor")):
            return service(*args, **kwargs)

    return service_for_actor
