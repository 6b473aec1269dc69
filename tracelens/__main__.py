"""`python -m tracelens`."""

from tracelens.cli import main

# NOTE: the guard matters: ingest's worker processes import the main module again.
if __name__ == "__main__":
    main()
