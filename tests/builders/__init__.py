"""Builders shared by the tests: the only test modules other tests may import."""
