"""The X-Ray checkpoint state (kept with the collector: :mod:`collectors.xray_state`)."""

from collectors.xray_state import XRAY_RETENTION, XRayState, trace_start_s

__all__ = ["XRAY_RETENTION", "XRayState", "trace_start_s"]
