"""The ops API's page-number pagination, whose deep pages read an index instead of whole rows.

`?page=N` deep in a large table (a million mail events) is `LIMIT 25 OFFSET 500000`: MariaDB
then reads and sorts every row of the table. Here a page is fetched in two steps: the primary
keys of the page first (`values_list("pk")` in the list's order, which the ordering's index
covers, so only index entries are skipped), then those rows by primary key. Same URLs, same
links and `count`, same order; a list that is not a queryset is paged as before.
"""

from __future__ import annotations

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from rest_framework.pagination import PageNumberPagination


class KeysFirstPaginator(Paginator):
    def page(self, number) -> Page:
        number = self.validate_number(number)
        if not isinstance(self.object_list, QuerySet):
            return super().page(number)
        bottom = (number - 1) * self.per_page
        top = min(bottom + self.per_page, self.count)
        if top + self.orphans >= self.count:
            top = self.count
        keys = list(self.object_list.values_list("pk", flat=True)[bottom:top])
        rows = {row.pk: row for row in self.object_list.filter(pk__in=keys)}
        return self._get_page([rows[key] for key in keys if key in rows], number, self)


class OpsPagination(PageNumberPagination):
    """DRF's PageNumberPagination (PAGE_SIZE, `?page=`), with KeysFirstPaginator."""

    django_paginator_class = KeysFirstPaginator
