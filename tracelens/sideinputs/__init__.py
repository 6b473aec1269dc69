"""Side inputs of `tracelens analyze`: Lambda logs, CloudWatch metrics, function configuration.

Each loader reads the JSON or text that AWS tools already produce, recognized by content, and
records every refused record in the caller's ``RejectionLog``.
"""

from tracelens.sideinputs.functions import FunctionInventory, load_functions, read_functions
from tracelens.sideinputs.logs import LambdaLogs, load_logs, read_logs
from tracelens.sideinputs.metrics import load_metrics, read_metrics

__all__ = [
    "FunctionInventory",
    "LambdaLogs",
    "load_functions",
    "load_logs",
    "load_metrics",
    "read_functions",
    "read_logs",
    "read_metrics",
]
