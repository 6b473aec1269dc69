"""Collectors pull data from AWS APIs and return it; they never write files or render."""
