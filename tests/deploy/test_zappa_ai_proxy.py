"""The AI proxy function streams: a Lambda function URL in RESPONSE_STREAM mode behind
CloudFront, the app under the Lambda Web Adapter, no API Gateway (its REST proxy buffers
the whole answer and stops at 29 s). The settings, the template and the hook agree."""

import subprocess
import sys
import time
import urllib.request

import boto3
import pytest
from botocore.stub import Stubber

from bench.harness import free_port
from deploy import zappa_hooks
from deploy.stage import PROJECT_DIR, load_stage
from tests.deploy.test_zappa_stack import RESOURCES

STAGE = "production_ai_proxy"
MODEL_PATHS = {"/api/v1/chat/*", "/api/v1/embeddings"}


def test_the_ai_proxy_stage_is_a_streaming_function_url_under_the_web_adapter():
    cli = load_stage(STAGE)
    environment = cli.aws_environment_variables

    assert cli.use_apigateway is False  # nothing in front that buffers or stops at 29 s
    assert cli.use_function_url is True and cli.function_url_config["authorizer"] == "NONE"  # API keys, in the app
    assert not cli.function_url_config["cors"]
    assert cli.memory_size == 2048 and 60 <= cli.timeout_seconds <= 900
    assert cli.lambda_handler == "radiant/ai_proxy.sh"
    assert any(":layer:LambdaAdapterLayerX86:" in layer for layer in cli.layers)
    assert environment["AWS_LAMBDA_EXEC_WRAPPER"] == "/opt/bootstrap"
    assert environment["AWS_LWA_INVOKE_MODE"] == "response_stream"
    assert environment["AWS_LWA_READINESS_CHECK_PATH"] == "/healthz"
    assert ".lambda-url.us-east-1.on.aws" in environment["ALLOWED_HOSTS"].split(",")
    # Everything else the router's environment says, the AI proxy's says too.
    router = load_stage("production").aws_environment_variables
    assert {k: v for k, v in environment.items() if k != "ALLOWED_HOSTS" and not k.startswith("AWS_L")} == {
        k: v for k, v in router.items() if k != "ALLOWED_HOSTS"
    }
    assert cli.stage_config["callbacks"]["post"] == "deploy.zappa_hooks.configure_response_streaming"
    assert (PROJECT_DIR / cli.lambda_handler).stat().st_mode & 0o111  # executable


def test_cloudfront_sends_model_calls_to_the_function_url_uncached_and_uncompressed():
    distribution = RESOURCES["Distribution"]["Properties"]["DistributionConfig"]
    (origin,) = [o["Fn::If"][1] for o in distribution["Origins"] if "Fn::If" in o]
    behaviors = [b["Fn::If"][1] for b in distribution["CacheBehaviors"] if "Fn::If" in b]

    assert origin["DomainName"] == {"Ref": "AiProxyFunctionUrlDomain"} and "OriginPath" not in origin
    assert {b["PathPattern"] for b in behaviors} == MODEL_PATHS
    dynamic = distribution["DefaultCacheBehavior"]["CachePolicyId"]
    for behavior in behaviors:
        assert behavior["TargetOriginId"] == origin["Id"]
        assert behavior["CachePolicyId"] == dynamic and behavior["Compress"] is False
        assert "POST" in behavior["AllowedMethods"]


def test_the_routes_cloudfront_sends_there_are_the_gateways():
    from django.urls import resolve

    assert resolve("/api/v1/chat/completions").func.view_class.__module__ == "gateway.api"
    assert resolve("/api/v1/embeddings").func.view_class.__module__ == "gateway.api"


def test_the_post_deploy_hook_turns_the_function_url_to_response_streaming():
    cli = load_stage(STAGE)
    client = boto3.client("lambda", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    cli.zappa.lambda_client = client
    url = "https://abc123.lambda-url.us-east-1.on.aws/"
    with Stubber(client) as stub:
        stub.add_response("get_function_url_config", {
            "FunctionUrl": url, "FunctionArn": "arn:aws:lambda:us-east-1:1:function:radiant-production-ai-proxy",
            "AuthType": "NONE", "CreationTime": "2026", "LastModifiedTime": "2026", "InvokeMode": "BUFFERED",
        }, {"FunctionName": "radiant-production-ai-proxy"})
        stub.add_response("update_function_url_config", {
            "FunctionUrl": url, "FunctionArn": "arn:aws:lambda:us-east-1:1:function:radiant-production-ai-proxy",
            "AuthType": "NONE", "CreationTime": "2026", "LastModifiedTime": "2026", "InvokeMode": "RESPONSE_STREAM",
        }, {"FunctionName": "radiant-production-ai-proxy", "InvokeMode": "RESPONSE_STREAM"})
        zappa_hooks.configure_response_streaming(cli)
        stub.assert_no_pending_responses()


def test_the_stream_server_serves_the_app(tmp_path):
    """What the adapter talks to: the app on AWS_LWA_PORT, ready at /healthz."""
    port = free_port()
    env = {"AWS_LWA_PORT": str(port), "DJANGO_SETTINGS_MODULE": "radiant.settings", "PATH": "/usr/bin:/bin",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "LOG_LEVEL": "ERROR"}
    server = subprocess.Popen([sys.executable, "-m", "radiant.stream_server"], cwd=PROJECT_DIR, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    assert response.status == 200
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail("the stream server did not come up")
                time.sleep(0.1)
    finally:
        server.terminate()
        server.wait(10)
