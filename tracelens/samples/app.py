"""The sample serverless application: its functions, endpoints and downstream resources.

Everything the generator emits (traces, logs, metrics, function configuration) describes this
one application, so the names here are the names an analyst sees in every source.
"""

from __future__ import annotations

from dataclasses import dataclass

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
ACCOUNT_CONCURRENCY_LIMIT = 1000

# NOTE: X-Ray samples requests; CloudWatch metrics count all of them. The sample's metrics model
# the full traffic as exactly this many copies of the traced traffic (Sum statistics only).
SAMPLING_RATIO = 4

VPC_ID = "vpc-0a1b2c3d4e5f60718"
PRIVATE_SUBNETS = ("subnet-0c1d2e3f4a5b60718", "subnet-0d2e3f4a5b6c70819")
LAMBDA_SECURITY_GROUP = "sg-0e3f4a5b6c7d80910"

ORDERS_TABLE = "orders"
INVENTORY_TABLE = "inventory"
FRAUD_TABLE = "fraud-signals"
ORDER_EVENTS_QUEUE = "order-events"
SHIPMENT_TOPIC = "shipment-updates"

PAYMENTS_HOST = "api.payments.example.com"
CARRIER_HOST = "api.carrier.example.net"
WEBHOOK_HOST = "hooks.partner.example.org"

# Documentation address ranges (RFC 5737): the external hosts resolve to these.
HOST_ADDRESSES: dict[str, tuple[str, ...]] = {
    PAYMENTS_HOST: ("203.0.113.24", "203.0.113.88"),
    CARRIER_HOST: ("198.51.100.41",),
    WEBHOOK_HOST: ("192.0.2.17", "192.0.2.18"),
}


@dataclass(frozen=True)
class FunctionSpec:
    """One Lambda function as deployed.

    ``init_median_ms`` is the typical on-demand ``Init Duration`` (runtime and package size);
    for a SnapStart function it is the typical ``Restore Duration`` instead.
    """

    name: str
    runtime: str
    runtime_version: str
    handler: str
    memory_mb: int
    timeout_s: int
    code_size_bytes: int
    architecture: str
    vpc: bool
    init_median_ms: float
    base_memory_used_mb: int
    log_format: str = "Text"  # "Text" | "JSON" (the function's LoggingConfig)
    reserved_concurrency: int | None = None
    provisioned_concurrency: int | None = None
    alias: str | None = None  # invoked qualifier (alias) when not $LATEST
    version: str = "$LATEST"  # the version the alias points at
    snapstart: bool = False
    description: str = ""
    layers: tuple[str, ...] = ()

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.name}"

    @property
    def invoked_arn(self) -> str:
        """The ARN callers invoke: qualified by the alias when there is one."""
        return f"{self.arn}:{self.alias}" if self.alias else self.arn

    @property
    def log_group(self) -> str:
        return f"/aws/lambda/{self.name}"


ADOT_NODE_LAYER = f"arn:aws:lambda:{REGION}:901920570463:layer:aws-otel-nodejs-amd64-ver-1-30-1:1"

ORDERS_CREATE = FunctionSpec(
    name="orders-create",
    runtime="nodejs20.x",
    runtime_version="nodejs:20.v48",
    handler="index.handler",
    memory_mb=1024,
    timeout_s=10,
    code_size_bytes=8_812_544,
    architecture="x86_64",
    vpc=True,
    init_median_ms=610.0,
    base_memory_used_mb=148,
    description="Creates an order: stock check, fraud check, payment, persistence",
    layers=(ADOT_NODE_LAYER,),
)
FRAUD_CHECK = FunctionSpec(
    name="fraud-check",
    runtime="python3.12",
    runtime_version="python:3.12.v38",
    handler="app.handler",
    memory_mb=512,
    timeout_s=5,
    code_size_bytes=1_204_224,
    architecture="x86_64",
    vpc=False,
    init_median_ms=340.0,
    base_memory_used_mb=78,
    reserved_concurrency=5,
    description="Scores an order against recent fraud signals",
)
ORDERS_GET = FunctionSpec(
    name="orders-get",
    runtime="python3.12",
    runtime_version="python:3.12.v38",
    handler="app.handler",
    memory_mb=256,
    timeout_s=3,
    code_size_bytes=412_672,
    architecture="arm64",
    vpc=False,
    init_median_ms=390.0,
    base_memory_used_mb=64,
    log_format="JSON",
    provisioned_concurrency=1,
    alias="live",
    version="7",
    description="Reads one order",
)
SHIPPING_QUOTE = FunctionSpec(
    name="shipping-quote",
    runtime="provided.al2023",
    runtime_version="provided:al2023.v62",
    handler="bootstrap",
    memory_mb=256,
    timeout_s=3,
    code_size_bytes=9_437_184,
    architecture="arm64",
    vpc=True,
    init_median_ms=85.0,
    base_memory_used_mb=38,
    description="Books a shipment with the carrier and notifies subscribers",
)
NOTIFY_WEBHOOK = FunctionSpec(
    name="notify-webhook",
    runtime="provided.al2023",
    runtime_version="provided:al2023.v62",
    handler="bootstrap",
    memory_mb=128,
    timeout_s=5,
    code_size_bytes=7_340_032,
    architecture="arm64",
    vpc=False,
    init_median_ms=62.0,
    base_memory_used_mb=29,
    description="Delivers shipment events to the partner webhook",
)
REPORT_EXPORT = FunctionSpec(
    name="report-export",
    runtime="java21",
    runtime_version="java:21.v25",
    handler="com.example.reports.ExportHandler::handleRequest",
    memory_mb=2048,
    timeout_s=30,
    code_size_bytes=24_117_248,
    architecture="x86_64",
    vpc=False,
    init_median_ms=430.0,
    base_memory_used_mb=212,
    reserved_concurrency=2,
    alias="live",
    version="3",
    snapstart=True,
    description="Builds the daily orders report",
)
LEGACY_EXPORT = FunctionSpec(
    name="legacy-export",
    runtime="python3.11",
    runtime_version="python:3.11.v52",
    handler="export.handler",
    memory_mb=512,
    timeout_s=60,
    code_size_bytes=2_883_584,
    architecture="x86_64",
    vpc=False,
    init_median_ms=520.0,
    base_memory_used_mb=90,
    reserved_concurrency=0,
    description="Old report export, switched off by setting reserved concurrency to 0",
)

FUNCTIONS: tuple[FunctionSpec, ...] = (
    ORDERS_CREATE,
    FRAUD_CHECK,
    ORDERS_GET,
    SHIPPING_QUOTE,
    NOTIFY_WEBHOOK,
    REPORT_EXPORT,
    LEGACY_EXPORT,
)
FUNCTIONS_BY_NAME: dict[str, FunctionSpec] = {f.name: f for f in FUNCTIONS}


@dataclass(frozen=True)
class Stage:
    """An API Gateway REST API stage (the ``AWS::ApiGateway::Stage`` segment's name)."""

    api_name: str
    rest_api_id: str
    stage: str = "prod"

    @property
    def name(self) -> str:
        return f"{self.api_name}/{self.stage}"

    @property
    def arn(self) -> str:
        return f"arn:aws:apigateway:{REGION}::/restapis/{self.rest_api_id}/stages/{self.stage}"

    @property
    def base_url(self) -> str:
        return f"https://{self.rest_api_id}.execute-api.{REGION}.amazonaws.com/{self.stage}"


ORDERS_API = Stage("orders-api", "k3x9q2w7ab")
REPORTS_API = Stage("reports-api", "p8d4m1z6cd")


@dataclass(frozen=True)
class Endpoint:
    """One route: the stage, method and path template, and the function behind it."""

    stage: Stage
    method: str
    path: str
    function: FunctionSpec
    weight: float

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


CREATE_ORDER = Endpoint(ORDERS_API, "POST", "/orders", ORDERS_CREATE, 0.40)
GET_ORDER = Endpoint(ORDERS_API, "GET", "/orders/{id}", ORDERS_GET, 0.31)
SHIP_ORDER = Endpoint(ORDERS_API, "POST", "/orders/{id}/ship", SHIPPING_QUOTE, 0.18)
DAILY_REPORT = Endpoint(REPORTS_API, "GET", "/reports/daily", REPORT_EXPORT, 0.07)
LEGACY_REPORT = Endpoint(REPORTS_API, "GET", "/reports/legacy", LEGACY_EXPORT, 0.04)

ENDPOINTS: tuple[Endpoint, ...] = (
    CREATE_ORDER,
    GET_ORDER,
    SHIP_ORDER,
    DAILY_REPORT,
    LEGACY_REPORT,
)


def queue_url(queue: str) -> str:
    return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/{queue}"


def topic_arn(topic: str) -> str:
    return f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:{topic}"
