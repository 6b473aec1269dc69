# The tracelens Lambda function's image (deploy/sam/template.yaml builds it with `sam build`).
# Lambda runs the handler as a non-root user; tracelens.aws_lambda.handler runs one collection
# cycle, the report and the alerts per invocation.

FROM public.ecr.aws/lambda/python:3.12
COPY pyproject.toml README.md /tmp/src/
COPY tracelens /tmp/src/tracelens
COPY collectors /tmp/src/collectors
COPY analyses /tmp/src/analyses
RUN pip install --no-cache-dir --target "${LAMBDA_TASK_ROOT}" /tmp/src && rm -rf /tmp/src
CMD ["tracelens.aws_lambda.handler"]
