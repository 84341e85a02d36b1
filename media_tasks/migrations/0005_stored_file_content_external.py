"""On PostgreSQL, keep stored file bytes out of line and uncompressed.

Images are compressed already: the default (EXTENDED) makes PostgreSQL try pglz on every
upload first, for nothing. https://www.postgresql.org/docs/current/storage-toast.html
"""

from __future__ import annotations

from django.db import migrations


def set_storage(storage: str):
    def run(apps, schema_editor) -> None:
        if schema_editor.connection.vendor != "postgresql":
            return
        table = apps.get_model("media_tasks", "StoredFile")._meta.db_table
        schema_editor.execute(f"ALTER TABLE {table} ALTER COLUMN content SET STORAGE {storage}")

    return run


class Migration(migrations.Migration):
    dependencies = [("media_tasks", "0004_email_html_body")]

    operations = [migrations.RunPython(set_storage("EXTERNAL"), set_storage("EXTENDED"))]
