"""Where alerts go: an SNS topic, a webhook (Slack incoming webhook or plain JSON), an
EventBridge bus. Each sink sends one alert per call and raises :class:`DeliveryError` when
it could not.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

import orjson
from botocore.exceptions import BotoCoreError, ClientError

from tracelens.alerts.message import Alert

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_sns import SNSClient

EVENT_SOURCE = "tracelens"
EVENT_DETAIL_TYPE = "tracelens alert"
WEBHOOK_TIMEOUT_S = 10.0


class DeliveryError(RuntimeError):
    """An alert could not be delivered (the message names the sink and the reason)."""


class Sink(Protocol):
    """Sends alerts somewhere."""

    @property
    def name(self) -> str:
        """For messages: ``sns``, ``webhook`` or ``eventbridge`` and where."""
        ...

    def send(self, alert: Alert) -> None:
        """Deliver ``alert``; :class:`DeliveryError` when that failed."""
        ...


class SnsSink:
    """Publishes each alert to an SNS topic: the title as subject, the text as message, and
    ``severity`` and ``event`` as message attributes (for subscription filter policies)."""

    def __init__(self, client: SNSClient, topic_arn: str) -> None:
        self._client = client
        self._topic_arn = topic_arn

    @property
    def name(self) -> str:
        return f"sns {self._topic_arn}"

    def send(self, alert: Alert) -> None:
        try:
            self._client.publish(
                TopicArn=self._topic_arn,
                Subject=_sns_subject(alert.title()),
                Message=alert.text(),
                MessageAttributes={
                    "severity": {"DataType": "String", "StringValue": alert.severity},
                    "event": {"DataType": "String", "StringValue": alert.event},
                },
            )
        except (ClientError, BotoCoreError) as exc:
            raise DeliveryError(f"{self.name}: {_aws_reason(exc)}") from exc


class EventBridgeSink:
    """Puts each alert on an EventBridge bus: source ``tracelens``, detail type
    ``tracelens alert``, the alert's JSON object as detail (rules can match ``severity``,
    ``event``, ``kind``...)."""

    def __init__(self, client: EventBridgeClient, bus: str) -> None:
        self._client = client
        self._bus = bus

    @property
    def name(self) -> str:
        return f"eventbridge {self._bus}"

    def send(self, alert: Alert) -> None:
        try:
            response = self._client.put_events(
                Entries=[
                    {
                        "Source": EVENT_SOURCE,
                        "DetailType": EVENT_DETAIL_TYPE,
                        "Detail": orjson.dumps(alert.as_json()).decode(),
                        "EventBusName": self._bus,
                        "Time": alert.at,
                    }
                ]
            )
        except (ClientError, BotoCoreError) as exc:
            raise DeliveryError(f"{self.name}: {_aws_reason(exc)}") from exc
        if response.get("FailedEntryCount"):
            entry = response["Entries"][0]
            reason = f"{entry.get('ErrorCode', 'error')}: {entry.get('ErrorMessage', '')}"
            raise DeliveryError(f"{self.name}: the event was refused ({reason})")


class WebhookSink:
    """POSTs each alert as JSON: Slack's ``{"text": ...}`` or the alert object itself.

    The URL is a credential (anyone holding a Slack webhook URL can post to the channel):
    messages name only its host.
    """

    def __init__(self, url: str, *, shape: str = "auto", timeout_s: float = WEBHOOK_TIMEOUT_S):
        self._url = url
        host = urlsplit(url).hostname or ""
        self._host = host
        slack = shape == "slack" or (shape == "auto" and host == "hooks.slack.com")
        self.shape = "slack" if slack else "json"
        self._timeout_s = timeout_s

    @property
    def name(self) -> str:
        return f"webhook {self._host} ({self.shape})"

    def payload(self, alert: Alert) -> dict[str, Any]:
        """The JSON body sent for ``alert``."""
        if self.shape == "json":
            return alert.as_json()
        body = "\n".join(_slack_escape(line) for line in alert.lines())
        link = alert.report_url
        text = f"*{_slack_escape(alert.title())}*\n{body}"
        if link and link.startswith(("https://", "http://")):
            text += f"\n<{_slack_escape(link)}|open the report>"
        return {"text": text}

    def send(self, alert: Alert) -> None:
        data = orjson.dumps(self.payload(alert))
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked by the config
            self._url,
            data=data,
            method="POST",
            headers={"Content-Type": "application/json", "User-Agent": "tracelens"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout_s) as response:  # noqa: S310
                response.read()
        except urllib.error.HTTPError as exc:
            raise DeliveryError(f"{self.name}: HTTP {exc.code} {exc.reason}") from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise DeliveryError(f"{self.name}: {reason}") from exc


def _sns_subject(title: str) -> str:
    # NOTE: SNS refuses subjects with line breaks or non-ASCII control characters.
    return "".join(ch if ch.isprintable() else " " for ch in title)[:100]


def _slack_escape(text: str) -> str:
    """Slack's mrkdwn escaping: ``&``, ``<`` and ``>`` (trace names are untrusted)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _aws_reason(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'Unknown')}: {error.get('Message', '')}"
    return str(exc)
