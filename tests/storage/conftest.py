"""Both engines for the storage suite: every test here runs on SQLite and on PostgreSQL.

``engine`` is a database target (a SQLite file path, or a fresh PostgreSQL database's
URL on the session's throwaway cluster, see tests/postgres.py; ``pg_cluster`` and
``pg_seeded`` are in tests/conftest.py). The cluster starts only when a PostgreSQL test
runs, once per session.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.postgres import Cluster

ENGINES = ["sqlite", "postgresql"]


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database on each engine: a path, or a ``postgresql://`` URL."""
    if request.param == "sqlite":
        yield str(tmp_path / "district.db")
        return
    cluster: Cluster = request.getfixturevalue("pg_cluster")
    with cluster.database() as url:
        yield url


@pytest.fixture(params=ENGINES)
def seeded_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database holding the demo accounts, on each engine."""
    if request.param == "sqlite":
        path = tmp_path / "district.db"
        Path(path).write_bytes(Path(request.getfixturevalue("seeded_db")).read_bytes())
        yield str(path)
        return
    cluster: Cluster = request.getfixturevalue("pg_cluster")
    with cluster.database(template=request.getfixturevalue("pg_seeded")) as url:
        yield url
