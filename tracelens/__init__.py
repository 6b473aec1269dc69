"""tracelens: AWS X-Ray and Lambda trace analysis for on-call engineers."""

__version__ = "0.1.0"
