"""Alerts: what changed since the last report (a finding appeared, escalated or resolved;
collection went stale or recovered), deduplicated with a cooldown, sent to SNS, a webhook
(Slack or JSON) or EventBridge.
"""

from __future__ import annotations

from tracelens.alerts.message import Alert, AlertEvent
from tracelens.alerts.notifier import Notifier, SendReport
from tracelens.alerts.tracking import Observed

__all__ = ["Alert", "AlertEvent", "Notifier", "Observed", "SendReport"]
