"""Helpers shared by the tests of every tier: one place for each, imported from here
(never from another test module)."""
