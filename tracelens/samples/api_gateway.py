"""API Gateway stages: the root ``AWS::ApiGateway::Stage`` segment of every trace.

The stage segment holds one ``Lambda`` subsegment (the integration's Invoke). A throttled
invocation is answered ``500`` (API Gateway maps Lambda's 429 to an internal error) and a
function error or timeout ``502``.
"""

from __future__ import annotations

from tracelens.samples.app import ACCOUNT_ID, REGION
from tracelens.samples.calls import invoke_subsegment, status_flags
from tracelens.samples.ids import ceil_ms, epoch_ms, floor_ms
from tracelens.samples.truth import CLIENT, FUNCTION, STAGE, NodeRef
from tracelens.samples.world import Document, Request, TraceBuild, World

USER_AGENTS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "okhttp/4.12.0",
    "shop-backoffice/2.14 (python-requests/2.32.3)",
)


def serve(world: World, request: Request) -> TraceBuild:
    """Build the whole trace of one request, starting at its API Gateway stage."""
    draws = world.draws
    endpoint = request.endpoint
    stage = endpoint.stage
    function = endpoint.function
    trace = TraceBuild(draws.trace_id(request.start_s), request)
    stage_start_s = floor_ms(request.start_s)
    subsegment_id = draws.hex_id()
    # NOTE: API Gateway writes millisecond timestamps, on its subsegment too.
    call_start_s = floor_ms(stage_start_s + draws.uniform(0.003, 0.011))
    stage_node = NodeRef(stage.name, STAGE)
    outcome = world.invoke(world, trace, stage_node, function, call_start_s, subsegment_id)
    call_end_s = ceil_ms(outcome.end_s + draws.uniform(0.0006, 0.0022))
    lambda_status = 429 if outcome.throttled else 200
    if outcome.throttled:
        status = 500
    elif outcome.function_error:
        status = 502
    else:
        status = outcome.status
    integration_url = (
        f"https://lambda.{REGION}.amazonaws.com/2015-03-31/functions/"
        f"{function.invoked_arn}/invocations"
    )
    call = invoke_subsegment(
        draws,
        subsegment_id,
        function.name,
        outcome.request_id,
        call_start_s,
        call_end_s,
        status=lambda_status,
        url=integration_url,
    )
    stage_end_s = ceil_ms(call_end_s + draws.uniform(0.0009, 0.0035))
    path = endpoint.path.replace("{id}", f"o-{draws.rng.randint(100000, 999999)}")
    doc: Document = {
        "id": draws.hex_id(),
        "name": stage.name,
        "start_time": epoch_ms(stage_start_s),
        "end_time": epoch_ms(stage_end_s),
        **status_flags(status),
        "http": {
            "request": {
                "url": stage.base_url + path,
                "method": endpoint.method,
                "user_agent": draws.rng.choice(USER_AGENTS),
                "client_ip": f"198.51.100.{draws.rng.randint(2, 254)}",
                "x_forwarded_for": True,
            },
            "response": {"status": status, "content_length": 0},
        },
        "aws": {
            "api_gateway": {
                "account_id": ACCOUNT_ID,
                "rest_api_id": stage.rest_api_id,
                "stage": stage.stage,
                "request_id": draws.request_id(),
            }
        },
        "trace_id": trace.trace_id,
        "origin": "AWS::ApiGateway::Stage",
        "resource_arn": stage.arn,
        "subsegments": [call],
    }
    trace.documents.insert(0, doc)
    duration_ms = (stage_end_s - stage_start_s) * 1000
    ledger = world.ledger
    ledger.call(
        NodeRef(stage.name, CLIENT),
        stage_node,
        trace_id=trace.trace_id,
        duration_ms=duration_ms,
        status=status,
    )
    ledger.call(
        stage_node,
        NodeRef(function.name, FUNCTION),
        trace_id=trace.trace_id,
        duration_ms=(call_end_s - call_start_s) * 1000,
        status=lambda_status,
    )
    ledger.request(
        trace.trace_id,
        stage.name,
        endpoint.key,
        status,
        throttled=outcome.throttled,
        duration_ms=duration_ms,
    )
    return trace
