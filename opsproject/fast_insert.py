"""One-row and many-row INSERTs for hot paths, without the ORM's per-save machinery.

`Model.save()` of a new MailEvent costs about 0.7 ms of CPU (model state, the SQL compiler
preparing each of 13 fields one by one); the same INSERT through `insert_one` about 0.4 ms.
The Mailgun webhook stores a row per event on Mailgun's busiest path (bench/webhook.py); the
inbox drain stores events in batches, where `bulk_create` spent about 75 us a row preparing
values one by one through the SQL compiler (`insert_many`: a multi-row INSERT of the same
statement's values).

The statement is built once per model and database from the model's own concrete fields, so a
column added to the model is written here too; values go through each field's own
`pre_save`/`get_db_prep_save`, except text columns, which are passed as held (callers give str).
Left out on purpose: pre_save/post_save signals (nothing listens to the models that use this;
tests/opsproject/test_fast_insert.py pins that) and `Model.save()` overrides (callers set
derived fields themselves).
"""

from __future__ import annotations

from django.db import connections, models, router
from django.db.models.constants import OnConflict

_PLAIN = (models.CharField, models.TextField)
# Read and filled without a lock: a dict lookup or store is atomic in CPython, and two threads
# building the same statement at once build the same thing. No lock also means nothing a worker
# thread (the mail inbox drainer) could hold while the worker forks a pool child.
_statements: dict[tuple, tuple[str, list, list, bool]] = {}


def _statement(model: type[models.Model], alias: str, ignore_conflicts: bool):
    """(sql, fields, plain flags, returns id) for one row of `model` on database `alias`.

    The sql is `INSERT ... VALUES (...)`, then the conflict clause or RETURNING where asked for
    (insert_many strips the RETURNING and never asks for ignore_conflicts).
    """
    key = (model, alias, ignore_conflicts)
    built = _statements.get(key)
    if built is not None:
        return built
    connection = connections[alias]
    ops, meta = connection.ops, model._meta
    fields = [field for field in meta.concrete_fields if not field.primary_key]
    on_conflict = OnConflict.IGNORE if ignore_conflicts else None
    columns = ", ".join(ops.quote_name(field.column) for field in fields)
    sql = (
        f"{ops.insert_statement(on_conflict=on_conflict)} {ops.quote_name(meta.db_table)} ({columns}) "
        f"VALUES ({', '.join(['%s'] * len(fields))})"
    )
    suffix = ops.on_conflict_suffix_sql(fields, on_conflict, None, None)
    if suffix:
        sql += " " + suffix
    # The new row's id: RETURNING where the database has it, else (MySQL) the cursor's lastrowid.
    returns_id = not ignore_conflicts and connection.features.can_return_columns_from_insert
    if returns_id:
        returning, _ = ops.return_insert_columns([meta.pk])
        sql += " " + returning
    built = (sql, fields, [isinstance(field, _PLAIN) for field in fields], returns_id)
    _statements[key] = built
    return built


def insert_one(row: models.Model, *, ignore_conflicts: bool = False) -> bool:
    """INSERT `row` (a new instance); True if a row was written.

    With ignore_conflicts a row clashing with a unique key is skipped (False) and `row` gets no
    pk; otherwise the clash raises IntegrityError, as `save()` would, and `row` gets its pk.
    """
    model = type(row)
    alias = router.db_for_write(model, instance=row)
    connection = connections[alias]
    sql, fields, plain, returns_id = _statement(model, alias, ignore_conflicts)
    params = [
        getattr(row, field.attname)
        if is_plain
        else field.get_db_prep_save(field.pre_save(row, True), connection=connection)
        for field, is_plain in zip(fields, plain, strict=True)
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if ignore_conflicts:
            return cursor.rowcount == 1
        row.pk = cursor.fetchone()[0] if returns_id else cursor.lastrowid
    row._state.adding = False
    row._state.db = alias
    return True


# Rows per statement in insert_many: keeps a statement well under MariaDB's max_allowed_packet
# (16 MiB by default) for rows of a few KB.
CHUNK = 100


def insert_many(rows: list[models.Model]) -> int:
    """INSERT `rows` (new instances of one model) in multi-row statements; returns the count.

    The rows get no pk (MySQL cannot say which ids a multi-row INSERT took): read them back by
    a unique field where needed. A clash with a unique key raises IntegrityError, as
    `bulk_create` would, and the caller's transaction decides what stays.
    """
    if not rows:
        return 0
    model = type(rows[0])
    alias = router.db_for_write(model, instance=rows[0])
    connection = connections[alias]
    sql, fields, plain, returns_id = _statement(model, alias, False)
    if returns_id:
        sql = sql[: sql.rindex(" RETURNING ")]
    head, _, group = sql.rpartition(" VALUES ")
    prepared = [
        (field, None)
        if is_plain
        else (field, lambda row, field=field: field.get_db_prep_save(field.pre_save(row, True), connection))
        for field, is_plain in zip(fields, plain, strict=True)
    ]
    with connection.cursor() as cursor:
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start : start + CHUNK]
            params = []
            for row in chunk:
                params.extend(
                    getattr(row, field.attname) if prepare is None else prepare(row)
                    for field, prepare in prepared
                )
            cursor.execute(f"{head} VALUES {', '.join([group] * len(chunk))}", params)
    return len(rows)
