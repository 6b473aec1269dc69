"""Colours and marker shapes: the Okabe-Ito palette, distinct for colour-blind readers."""

from __future__ import annotations

from dataclasses import dataclass

BLACK = "#000000"
ORANGE = "#E69F00"
SKY_BLUE = "#56B4E9"
GREEN = "#009E73"
YELLOW = "#F0E442"
BLUE = "#0072B2"
VERMILLION = "#D55E00"
PURPLE = "#CC79A7"
GREY = "#999999"
LIGHT_GREY = "#C8C8C8"

# NOTE: yellow is last: on white it is the hardest to read, so it is used only when needed.
SERIES = (BLUE, ORANGE, GREEN, VERMILLION, SKY_BLUE, PURPLE, BLACK, YELLOW)

SEVERITY_COLOURS = {"critical": VERMILLION, "warning": ORANGE, "info": BLUE}

# Edge and span status, worst first.
STATUS_COLOURS = {
    "fault": VERMILLION,
    "throttle": PURPLE,
    "error": ORANGE,
    "ok": LIGHT_GREY,
}

COLD_KIND_COLOURS = {"on_demand": VERMILLION, "snapstart": GREEN, "provisioned": BLUE}
COLD_KIND_LABELS = {
    "on_demand": "on-demand",
    "snapstart": "SnapStart restore",
    "provisioned": "pre-initialized",
}


@dataclass(frozen=True)
class NodeStyle:
    """How one kind of service-map node is drawn, and its legend entry."""

    label: str
    colour: str
    symbol: str


_NODE_STYLES: dict[str, NodeStyle] = {
    "client": NodeStyle("client", BLACK, "circle-open"),
    "AWS::ApiGateway::Stage": NodeStyle("API Gateway stage", PURPLE, "diamond"),
    "AWS::Lambda": NodeStyle("Lambda service", SKY_BLUE, "square"),
    "AWS::Lambda::Function": NodeStyle("Lambda function", BLUE, "circle"),
    "AWS::DynamoDB::Table": NodeStyle("DynamoDB table", GREEN, "hexagon"),
    "AWS::DynamoDB": NodeStyle("DynamoDB table", GREEN, "hexagon"),
    "AWS::SQS::Queue": NodeStyle("SQS queue", ORANGE, "triangle-up"),
    "AWS::SNS": NodeStyle("SNS topic", ORANGE, "triangle-down"),
    "AWS::StepFunctions::StateMachine": NodeStyle("Step Functions", PURPLE, "pentagon"),
    "remote": NodeStyle("remote endpoint", VERMILLION, "star"),
}
_OTHER_AWS = NodeStyle("other AWS service", GREY, "square-open")
_OTHER = NodeStyle("other service", BLACK, "diamond-open")


def node_style(node_type: str) -> NodeStyle:
    """The style of a node type; unknown ``AWS::*`` types share one, other types another."""
    if node_type in _NODE_STYLES:
        return _NODE_STYLES[node_type]
    return _OTHER_AWS if node_type.startswith("AWS::") else _OTHER


def series_colour(index: int) -> str:
    """The ``index``-th series colour; past the palette, grey (never a repeated colour)."""
    return SERIES[index] if index < len(SERIES) else GREY
