"""A task only the foundation tests load into a worker (`--include`), reporting where it ran."""

import os

from celery import shared_task
from django.db import connection


@shared_task(name="tests.where_am_i")
def where_am_i(x: int, y: int) -> dict:
    return {
        "sum": x + y,
        "pid": os.getpid(),
        "vendor": connection.vendor,
        "database": connection.settings_dict["NAME"],
        "broker": where_am_i.app.connection_for_write().transport_cls,
    }


@shared_task(name="tests.database_connection_id")
def database_connection_id() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT CONNECTION_ID()")
        return cursor.fetchone()[0]


@shared_task(name="tests.queries_logged")
def queries_logged() -> int:
    connection.force_debug_cursor = True  # log this process's queries, as DEBUG does
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return len(connection.queries_log)
