"""The cold-start peer: a Python + boto3 function doing Tocsin's start-up, then long-polling /next.

Same work as `notify_core::run` before its first `/next`: read the settings, create the DynamoDB,
SSM, Secrets Manager and SES v2 clients (no network call), then ask the Runtime API for work.
"""

import json
import os
import urllib.request

import boto3

SETTINGS = (
    "DEFINITIONS_TABLE", "DELIVERIES_TABLE", "TOCSIN_DEFINITIONS_FILE", "TOCSIN_CACHE_SECONDS",
    "TOCSIN_HTTP_CONNECT_TIMEOUT_MS", "TOCSIN_HTTP_TIMEOUT_MS", "TOCSIN_MAX_ATTEMPTS",
    "TOCSIN_ALLOW_HOSTS", "TOCSIN_ALLOW_HTTP", "TOCSIN_EMAIL_FROM", "AWS_LAMBDA_LOG_FORMAT",
)
config = {name: os.environ.get(name) for name in SETTINGS}
session = boto3.session.Session()
definitions = session.client("dynamodb")
deliveries = session.client("dynamodb")
ssm = session.client("ssm")
secrets = session.client("secretsmanager")
ses = session.client("sesv2")

api = os.environ["AWS_LAMBDA_RUNTIME_API"]
while True:
    with urllib.request.urlopen(f"http://{api}/2018-06-01/runtime/invocation/next") as response:
        event = json.load(response)
        request_id = response.headers["Lambda-Runtime-Aws-Request-Id"]
    request = urllib.request.Request(
        f"http://{api}/2018-06-01/runtime/invocation/{request_id}/response",
        data=b"{}", method="POST")
    urllib.request.urlopen(request).close()
