"""DEFINER clauses of a mariadb-dump become CURRENT_USER on load; data lines pass untouched."""

import io

import pytest

from backups.dumpers.definers import DefinerRewriter

DUMP = (
    b"INSERT INTO `t` VALUES (1,'CREATE DEFINER=`root`@`%` FUNCTION'),(2,'x');\n"
    b"/*!50003 CREATE*/ /*!50017 DEFINER=`app`@`%`*/ /*!50003 trigger tr before insert on t"
    b" for each row set new.v=1 */;;\n"
    b"/*!50013 DEFINER=`we``ird`@`localhost` SQL SECURITY DEFINER */\n"
    b"CREATE DEFINER=`root`@`127.0.0.1` FUNCTION `f`(x int) RETURNS int(11)\n"
    b"    RETURN x * 2 ;;\n"
    b"/*!50106 CREATE*/ /*!50117 DEFINER=`root`@`localhost`*/ /*!50106 EVENT `e`"
    b" ON SCHEDULE EVERY 1 DAY DO SELECT 1 */ ;;\n"
    b"-- DEFINER=`root`@`localhost` in a comment stays\n"
    + b"INSERT INTO `big` VALUES ('"
    + b"y" * 300_000
    + b"');\n"
)


@pytest.mark.parametrize("chunk", [1, 7, 64, 4096, len(DUMP)])
def test_definers_are_rewritten_whatever_the_chunking(chunk):
    sink = io.BytesIO()
    writer = DefinerRewriter(sink)
    for start in range(0, len(DUMP), chunk):
        writer.write(DUMP[start : start + chunk])
    writer.close()
    out = sink.getvalue().split(b"\n")
    source = DUMP.split(b"\n")
    assert out[0] == source[0]  # data, even when it holds the words
    assert out[1].startswith(b"/*!50003 CREATE*/ /*!50017 DEFINER=CURRENT_USER*/ /*!50003 trigger tr")
    assert out[2] == b"/*!50013 DEFINER=CURRENT_USER SQL SECURITY DEFINER */"
    assert out[3] == b"CREATE DEFINER=CURRENT_USER FUNCTION `f`(x int) RETURNS int(11)"
    assert out[5].startswith(b"/*!50106 CREATE*/ /*!50117 DEFINER=CURRENT_USER*/ /*!50106 EVENT")
    assert out[4] == source[4] and out[6:] == source[6:]
