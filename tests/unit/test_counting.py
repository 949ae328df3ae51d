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
        "SELECT (SELECT count(*) FROM a WHERE t = $1 AND (false OR id = ANY($2))), "
        "(SELECT count(*) FROM b WHERE t = $3 AND x = $4 AND $3 <> ''), "
        "(SELECT $14::int)"
    )
    assert arguments == ["t", [1], "t", 7, *range(10)]


def test_a_boolean_is_a_literal_so_each_combination_keeps_one_plan() -> None:
    whole, _ = combined(
        [("SELECT count(*) FROM a WHERE t = $1 AND ($2 OR id = $3)", ("t", True, 5))]
    )
    one, arguments = combined(
        [("SELECT count(*) FROM a WHERE t = $1 AND ($2 OR id = $3)", ("t", False, 5))]
    )
    assert whole == "SELECT (SELECT count(*) FROM a WHERE t = $1 AND (true OR id = $2))"
    assert one == "SELECT (SELECT count(*) FROM a WHERE t = $1 AND (false OR id = $2))"
    assert arguments == ["t", 5]
