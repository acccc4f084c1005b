"""Tasks the scheduler tests send through a real worker (loaded with --include)."""

from celery import shared_task

from queueops.policy import policy_task


@shared_task(name="tests.noop")
def noop() -> str:
    return "ok"


# Under the retry policy, as every periodic job is: two attempts, one second apart.
@policy_task(name="tests.periodic_explode", tries=2, backoff=(1,))
def periodic_explode() -> None:
    raise RuntimeError("periodic job failed on purpose")
