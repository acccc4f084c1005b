"""The test-owned MariaDB server starts, answers, keeps data across a restart and stops."""

from tests.support.mariadb_server import mariadb_server


def test_own_server_with_binlog_survives_a_restart(tmp_path):
    with mariadb_server(tmp_path, binlog=True) as server:
        server.sql(
            "CREATE DATABASE t; CREATE TABLE t.x (id INT PRIMARY KEY); INSERT INTO t.x VALUES (1), (2)"
        )
        assert server.sql("SELECT @@log_bin").strip() == "1"
        server.restart()
        assert server.sql("SELECT COUNT(*) FROM t.x").strip() == "2"
        server.stop(kill=True)
        assert not server.ping()
