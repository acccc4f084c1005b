"""`manage.py queue_probe`: send a canary task through the broker and a worker, time the trip."""

from __future__ import annotations

import time

from celery.exceptions import TimeoutError as CeleryTimeout
from django.conf import settings

from queueops.management.base import QueueCommand, positive_seconds
from queueops.models import FailedJob
from queueops.policy import wait_after


class Command(QueueCommand):
    help = (
        "Send a canary task to a queue and wait for a worker to run it; print the round trip. "
        "With --fail the canary raises on every attempt and the probe waits for it to end as one "
        "failed job after the configured attempts (then deletes that row unless --keep). "
        "Exit 0 on success, 1 when nothing came back in time."
    )

    def add_arguments(self, parser):
        parser.add_argument("--queue", help="the queue to probe (default: Celery's default queue)")
        parser.add_argument(
            "--timeout", type=positive_seconds, help="seconds to wait (30; with --fail, the backoff plus 30)"
        )
        parser.add_argument("--fail", action="store_true", help="send a canary that always fails")
        parser.add_argument(
            "--keep", action="store_true", help="with --fail: keep the canary's failed job row"
        )

    def handle(self, *args, queue=None, timeout=None, fail=False, keep=False, **options):
        from celery import current_app as app

        from queueops.tasks import probe, probe_fail

        if keep and not fail:
            raise self.usage_error("--keep goes with --fail")
        queue = queue or app.conf.task_default_queue
        if timeout is None:
            waits = sum(wait_after(n, settings.QUEUE_BACKOFF) for n in range(1, settings.QUEUE_TRIES))
            timeout = 30 + (waits if fail else 0)
        sent_at = time.time()
        task = probe_fail if fail else probe
        try:
            # Expires with the wait: a canary nobody ran in time is dropped, not run later.
            result = task.apply_async(args=[sent_at], queue=queue, expires=timeout + 5)
        except Exception as exc:
            self.stderr.write(f"queue {queue}: could not send the canary ({type(exc).__name__}: {exc})")
            raise SystemExit(1) from None
        started = time.monotonic()
        if fail:
            self._wait_for_failed_job(queue, result.id, started, timeout, keep)
            return
        try:
            answer = result.get(timeout=timeout, interval=0.05)
        except CeleryTimeout:
            self.stderr.write(f"queue {queue}: no answer within {timeout:g} s (is a worker consuming it?)")
            raise SystemExit(1) from None
        except Exception as exc:
            self.stderr.write(f"queue {queue}: canary failed: {type(exc).__name__}: {exc}")
            raise SystemExit(1) from None
        finally:
            result.forget()
        took = time.monotonic() - started
        self.stdout.write(
            f"queue {queue}: round trip {took * 1000:.0f} ms "
            f"(started {answer['ran_at'] - sent_at:.3f} s after sending)"
        )

    def _wait_for_failed_job(self, queue, task_id, started, timeout, keep):
        while time.monotonic() - started < timeout:
            job = FailedJob.objects.filter(task_id=task_id).first()
            if job is not None:
                took = time.monotonic() - started
                self.stdout.write(
                    f"queue {queue}: the failing canary became failed job #{job.pk} after "
                    f"{job.attempts} attempt{'s' if job.attempts != 1 else ''} in {took:.1f} s"
                    + ("" if keep else "; row deleted")
                )
                if not keep:
                    job.delete()
                return
            time.sleep(0.2)
        self.stderr.write(
            f"queue {queue}: the failing canary was not recorded as a failed job within {timeout:g} s"
        )
        raise SystemExit(1)
