"""The SQLite file (or its write-ahead log) deleted or replaced under a running service: SQLite would write on into
the file it holds open, acknowledging every write that the next start cannot find (a 201 for a request that is
lost); each write is refused instead (503, store_unavailable) and /healthz says degraded."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.durability.conftest import serve


@pytest.mark.parametrize("change", ["deleted", "replaced", "log deleted"])
async def test_a_database_file_removed_under_the_service_refuses_writes_instead_of_losing_them(
    tmp_path: Path, change: str
) -> None:
    service = serve(tmp_path)
    database = tmp_path / "linkcast.db"
    await service.start()
    try:
        assert (await service.put("before", "http://127.0.0.1:1/a"))[0] == 201
        if change == "deleted":
            database.unlink()
        elif change == "log deleted":  # the commits not yet copied into the file go with it
            (tmp_path / "linkcast.db-wal").unlink()
        else:  # an operator's restore of a copy: another file at the same path
            shutil.copy(database, tmp_path / "copy.db")
            os.replace(tmp_path / "copy.db", database)
        status, body = await service.put("after", "http://127.0.0.1:1/b")
        assert (status, body["error"]["code"]) == (503, "store_unavailable"), body
        assert "removed or replaced" in body["error"]["message"]
        status, health = await service.call("GET", "/healthz")
        assert (status, health["status"]) == (503, "degraded"), health
        status, body = await service.call("PUT", "/webhooks/w", json={"url": "http://127.0.0.1:1/hook"})
        assert (status, body["error"]["code"]) == (503, "store_unavailable"), body
    finally:
        service.stop()
    log = (tmp_path / "serve.log").read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]
