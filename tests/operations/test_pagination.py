"""The ops API's pages (keys first, then rows) hold what plain offset pages held, in order."""

from __future__ import annotations

from django.core.paginator import Paginator

from operations.api.pagination import KeysFirstPaginator
from queueops.models import FailedJob
from tests.operations.conftest import failed_job


def test_every_page_matches_the_offset_page_in_order(db):
    for n in range(23):
        failed_job(n, queue="ops_a" if n % 3 else "ops_b")
    jobs = FailedJob.objects.filter(queue="ops_a").order_by("-failed_at", "-id")
    plain, keyed = Paginator(jobs, 4, orphans=1), KeysFirstPaginator(jobs, 4, orphans=1)
    assert keyed.num_pages == plain.num_pages > 2
    for number in plain.page_range:
        assert [job.pk for job in keyed.page(number)] == [job.pk for job in plain.page(number)]


def test_a_list_that_is_not_a_queryset_pages_as_before():
    keyed = KeysFirstPaginator(list(range(10)), 3)
    assert list(keyed.page(4)) == [9]
