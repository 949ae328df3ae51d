"""counting.combined: several count queries become one SELECT, parameters renumbered."""

from __future__ import annotations

from anonymizers.counting import combined


def test_parameters_are_numbered_after_the_previous_queries() -> None:
    sql, arguments = combined(
        [
            ("SELECT count(*) FROM a WHERE t = $1 AND ($2 OR id = ANY($3));", ("t", False, [1])),
            ("SELECT count(*) FROM b WHERE t = $1 AND x = $2 AND $1 <> ''", ("t", 7)),
            ("SELECT $10::int", tuple(range(10))),
        ]
    )
    assert sql == (
        "SELECT (SELECT count(*) FROM a WHERE t = $1 AND ($2 OR id = ANY($3))), "
        "(SELECT count(*) FROM b WHERE t = $4 AND x = $5 AND $4 <> ''), "
        "(SELECT $15::int)"
    )
    assert arguments == ["t", False, [1], "t", 7, *range(10)]
