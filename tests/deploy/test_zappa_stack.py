"""The CloudFormation stack (deploy/cloudformation/radiant.yaml) and how Zappa's settings meet it.

cfn-lint validates the template offline against CloudFormation's resource schemas; the
other tests check that the template and zappa_settings.json agree on what both must know
(names, timeouts, the queue), and that the settings file can be filled from the outputs.
"""

import json
import subprocess
import sys

import boto3
import pytest
from botocore.stub import Stubber
from cfnlint.decode import cfn_yaml

from deploy import stack_outputs, zappa_hooks
from deploy.stage import PROJECT_DIR, SETTINGS_FILE, load_stage

TEMPLATE_PATH = PROJECT_DIR / "deploy" / "cloudformation" / "radiant.yaml"
TEMPLATE = cfn_yaml.load(str(TEMPLATE_PATH))
RESOURCES = TEMPLATE["Resources"]
PARAMETERS = TEMPLATE["Parameters"]
ENVIRONMENT = PARAMETERS["EnvironmentName"]["Default"]
API_GATEWAY_LIMIT_SECONDS = 29


def of_type(kind):
    return {name: resource for name, resource in RESOURCES.items() if resource["Type"] == kind}


def sub(value):
    """A ``!Sub`` string with the template's parameter defaults in place."""
    text = value["Fn::Sub"] if isinstance(value, dict) else value
    for name, parameter in PARAMETERS.items():
        text = text.replace("${" + name + "}", str(parameter.get("Default", "")))
    return text


def test_the_template_passes_cfn_lint():
    result = subprocess.run(
        [sys.executable, "-c", "import sys, cfnlint.runner; sys.exit(cfnlint.runner.main())", str(TEMPLATE_PATH)],
        capture_output=True, text=True,
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_cfn_lint_catches_a_broken_template(tmp_path):
    """The lint step would notice: the same template with an invalid property fails."""
    broken = tmp_path / "broken.yaml"
    broken.write_text(TEMPLATE_PATH.read_text().replace("MaxCapacity: 16", "MaxCapacity: 16\n        MaxCapacityy: 1"))

    result = subprocess.run(
        [sys.executable, "-c", "import sys, cfnlint.runner; sys.exit(cfnlint.runner.main())", str(broken)],
        capture_output=True, text=True,
    )

    assert result.returncode != 0 and "MaxCapacityy" in result.stdout


def test_the_stack_environment_is_the_zappa_stages_prefix():
    router = load_stage(ENVIRONMENT)
    assert router.lambda_name == f"radiant-{ENVIRONMENT}"
    # SSM parameters the template creates are read by the deploy's settings callback.
    prefix = zappa_hooks.secret_paths("radiant", ENVIRONMENT)[0]
    for parameter in of_type("AWS::SSM::Parameter").values():
        assert sub(parameter["Properties"]["Name"]).startswith(prefix)
        assert parameter["Properties"]["Type"] == "String"  # secrets are SecureString, put by the operator


def test_aurora_serverless_v2_behind_rds_proxy_in_private_subnets():
    (cluster,) = of_type("AWS::RDS::DBCluster").values()
    properties = cluster["Properties"]
    assert properties["Engine"] == "aurora-postgresql"
    assert properties["ServerlessV2ScalingConfiguration"] == {"MinCapacity": 0.5, "MaxCapacity": 16}
    assert properties["StorageEncrypted"] is True
    (writer,) = of_type("AWS::RDS::DBInstance").values()
    assert writer["Properties"]["DBInstanceClass"] == "db.serverless"
    (proxy,) = of_type("AWS::RDS::DBProxy").values()
    assert proxy["Properties"]["EngineFamily"] == "POSTGRESQL" and proxy["Properties"]["RequireTLS"] is True
    assert len(proxy["Properties"]["Auth"]) == 2  # the operator role and the web role (RLS)
    (targets,) = of_type("AWS::RDS::DBProxyTargetGroup").values()
    assert targets["Properties"]["DBClusterIdentifiers"] == [{"Ref": "DatabaseCluster"}]
    subnets = {"Ref": "PrivateSubnetA"}, {"Ref": "PrivateSubnetB"}
    assert tuple(RESOURCES["DatabaseSubnets"]["Properties"]["SubnetIds"]) == subnets
    assert tuple(proxy["Properties"]["VpcSubnetIds"]) == subnets


def test_redis_in_cluster_mode_and_the_endpoints_the_functions_need():
    (redis,) = of_type("AWS::ElastiCache::ReplicationGroup").values()
    properties = redis["Properties"]
    assert properties["CacheParameterGroupName"].endswith(".cluster.on")
    assert properties["TransitEncryptionEnabled"] is True and properties["AutomaticFailoverEnabled"] is True
    endpoints = {sub(e["Properties"]["ServiceName"]).rsplit(".", 1)[-1] for e in of_type("AWS::EC2::VPCEndpoint").values()}
    assert {"sqs", "s3"} <= endpoints


def test_the_task_queue_dead_letters_after_bounded_retries_and_outlasts_the_worker():
    worker = load_stage("production_worker")
    queue = RESOURCES["TaskQueue"]["Properties"]
    visibility = PARAMETERS[queue["VisibilityTimeout"]["Ref"]]["Default"]

    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["TaskDeadLetterQueue", "Arn"]}
    assert 1 < queue["RedrivePolicy"]["maxReceiveCount"] <= 10
    # AWS's rule for Lambda event sources: visibility timeout at least 6x the function timeout.
    assert visibility >= 6 * worker.timeout_seconds
    assert RESOURCES["TaskDeadLetterQueue"]["Properties"]["MessageRetentionPeriod"] > queue["MessageRetentionPeriod"]
    (event,) = worker.stage_config["events"]
    assert event["event_source"]["batch_size"] <= 10  # standard queues: up to 10 without a batch window
    assert sub(queue["QueueName"]) == event["event_source"]["arn"].rsplit(":", 1)[-1]
    assert worker.aws_environment_variables["CELERY_SQS_QUEUE_URL"].endswith("/" + sub(queue["QueueName"]))


def test_cloudfront_with_waf_never_caches_dynamic_responses_and_waits_for_api_gateway():
    distribution = RESOURCES["Distribution"]["Properties"]["DistributionConfig"]
    (acl,) = of_type("AWS::WAFv2::WebACL").values()
    assert acl["Properties"]["Scope"] == "CLOUDFRONT"
    assert any("RateBasedStatement" in rule["Statement"] for rule in acl["Properties"]["Rules"])
    assert distribution["WebACLId"] == {"Fn::GetAtt": ["WebAcl", "Arn"]}

    policy = RESOURCES[distribution["DefaultCacheBehavior"]["CachePolicyId"]["Ref"]]["Properties"]["CachePolicyConfig"]
    assert policy["DefaultTTL"] == policy["MinTTL"] == 0  # the API and the admin: never stored
    behaviors = [b for b in distribution["CacheBehaviors"] if "Fn::If" not in b]  # the AI proxy's: test_zappa_ai_proxy.py
    assert "/admin/*" not in {b["PathPattern"] for b in behaviors}
    assert {b["PathPattern"] for b in behaviors} == {"/static/*"}

    (origin,) = [o for o in distribution["Origins"] if "Fn::If" not in o]
    assert origin["CustomOriginConfig"]["OriginReadTimeout"] > API_GATEWAY_LIMIT_SECONDS
    assert sub(origin["OriginPath"]) == f"/{load_stage(ENVIRONMENT).api_stage}"
    for stage in ("production", "production_billing"):
        assert load_stage(stage).timeout_seconds < API_GATEWAY_LIMIT_SECONDS


SEED_ALARMS = {
    # (namespace, metric): (warning, critical)
    ("AWS/ApiGateway", "Latency"): (1000, 3000),  # p95, milliseconds
    ("AWS/ApiGateway", "5XXError"): (0.01, 0.05),  # share of requests
    ("AWS/Lambda", "ConcurrentExecutions"): (500, 800),
    ("AWS/RDS", "CPUUtilization"): (70, 85),
    ("AWS/RDS", "DatabaseConnections"): (60, 80),  # percent of max_connections
}


def _metric(alarm):
    properties = alarm["Properties"]
    if "Metrics" in properties:
        stat = next(m for m in properties["Metrics"] if "MetricStat" in m)["MetricStat"]["Metric"]
        return stat["Namespace"], stat["MetricName"]
    return properties["Namespace"], properties["MetricName"]


def test_the_seeds_alarms_warning_and_critical_are_m_of_n():
    alarms = of_type("AWS::CloudWatch::Alarm")
    found = {}
    for name, alarm in alarms.items():
        properties = alarm["Properties"]
        assert 1 <= properties["DatapointsToAlarm"] <= properties["EvaluationPeriods"], name
        assert properties["AlarmActions"], name
        found.setdefault(_metric(alarm), {})["critical" if name.endswith("Critical") else "warning"] = properties["Threshold"]

    for metric, (warning, critical) in SEED_ALARMS.items():
        assert found[metric] == {"warning": warning, "critical": critical}, metric
    latency = RESOURCES["ApiLatencyP95Warning"]["Properties"]
    assert latency["ExtendedStatistic"] == "p95"
    assert sub(latency["Dimensions"][0]["Value"]) == load_stage(ENVIRONMENT).lambda_name  # Zappa names the API so
    metrics = RESOURCES["DatabaseConnectionsWarning"]["Properties"]["Metrics"]
    assert "100 * connections / ${DbMaxConnections}" in metrics[0]["Expression"]["Fn::Sub"]


def test_our_alarms_on_the_apps_emf_metrics():
    ours = {_metric(alarm)[1]: alarm["Properties"] for alarm in of_type("AWS::CloudWatch::Alarm").values()
            if _metric(alarm)[0] == "RADIANT"}

    assert set(ours) == {"FailOpenAdmissions", "AuditFallbacks", "AuditDefaultPartitionRows"}
    for properties in ours.values():
        assert properties["Threshold"] == 0 and properties["TreatMissingData"] == "notBreaching"
        # The dimensions the app's EMF lines carry: service and the deployment's stage.
        assert {d["Name"]: sub(d["Value"]) if isinstance(d["Value"], str) else d["Value"] for d in properties["Dimensions"]} \
            == {"service": "radiant", "stage": {"Ref": "EnvironmentName"}}


def test_the_functions_zappa_deploys_fit_the_stack_around_them():
    sizes = {stage: load_stage(stage).memory_size for stage in
             ("production", "production_billing", "production_ai_proxy", "production_migrations", "production_worker")}
    assert sizes == {"production": 1024, "production_billing": 512, "production_ai_proxy": 2048,
                     "production_migrations": 256, "production_worker": 512}
    router = load_stage("production")
    assert router.provisioned_concurrency == 10
    # Kept warm all the time, well below the concurrency the alarms watch.
    assert router.provisioned_concurrency < RESOURCES["LambdaConcurrencyWarning"]["Properties"]["Threshold"]
    for stage in sizes:
        cli = load_stage(stage)
        assert cli.vpc_config["SubnetIds"] and cli.vpc_config["SecurityGroupIds"]  # in the stack's VPC
        assert cli.stage_config.get("cache_cluster_enabled") in (None, False)


def test_every_output_the_settings_are_filled_from_exists():
    outputs = TEMPLATE["Outputs"]
    for key in stack_outputs.REQUIRED_OUTPUTS + ("DistributionDomainName",):
        assert key in outputs, key


STACK = {
    "DeploymentBucketName": "radiant-production-deploymentbucket-1a2b3c",
    "LambdaEnvironmentKeyArn": "arn:aws:kms:us-east-1:123456789012:key/0a1b2c3d-1111-2222-3333-444455556666",
    "PrivateSubnetIds": "subnet-0aaa1111,subnet-0bbb2222",
    "LambdaSecurityGroupId": "sg-0ccc3333",
    "TaskQueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/radiant-production-tasks",
    "TaskQueueArn": "arn:aws:sqs:us-east-1:123456789012:radiant-production-tasks",
    "DistributionDomainName": "d111111abcdef8.cloudfront.net",
}


def _cloudformation(status="UPDATE_COMPLETE"):
    client = boto3.client("cloudformation", region_name="us-east-1", aws_access_key_id="testing",
                          aws_secret_access_key="testing")
    stub = Stubber(client)
    stub.add_response("describe_stacks", {"Stacks": [{
        "StackName": "radiant-production", "StackStatus": status, "CreationTime": "2026-12-01T00:00:00Z",
        "Outputs": [{"OutputKey": key, "OutputValue": value} for key, value in STACK.items()],
    }]}, {"StackName": "radiant-production"})
    stub.activate()
    return client


def test_stack_outputs_fill_the_settings_zappa_then_deploys_with(tmp_path, capsys):
    settings = tmp_path / "zappa_settings.json"
    settings.write_text(SETTINGS_FILE.read_text())

    assert stack_outputs.main(["radiant-production", "--settings", str(settings), "--write"],
                              cloudformation=_cloudformation()) == 0

    assert "+        \"s3_bucket\": \"radiant-production-deploymentbucket-1a2b3c\"" in capsys.readouterr().out
    worker = load_stage("production_worker", settings_file=settings)
    assert worker.vpc_config == {"SubnetIds": ["subnet-0aaa1111", "subnet-0bbb2222"], "SecurityGroupIds": ["sg-0ccc3333"]}
    assert worker.stage_config["events"][0]["event_source"]["arn"] == STACK["TaskQueueArn"]
    assert worker.aws_environment_variables["CELERY_SQS_QUEUE_URL"] == STACK["TaskQueueUrl"]
    assert f"AWS_EVENT_MAPPING={{'{STACK['TaskQueueArn']}'" in worker.get_zappa_settings_string()
    router = load_stage("production", settings_file=settings)
    assert "d111111abcdef8.cloudfront.net" in router.aws_environment_variables["ALLOWED_HOSTS"].split(",")
    # What is left for the operator: the custom domain's certificate, nothing from the stack.
    left = {stage: sorted(zappa_hooks._placeholders(load_stage(stage, settings_file=settings).stage_config))
            for stage in ("production", "production_worker", "production_migrations")}
    assert left == {"production": ["certificate_arn"], "production_worker": [], "production_migrations": []}
    # Running it again changes nothing.
    again = json.loads(settings.read_text())
    assert stack_outputs.apply_outputs(again, STACK) == again


def test_a_stack_that_rolled_back_is_refused(tmp_path, capsys):
    settings = tmp_path / "zappa_settings.json"
    settings.write_text(SETTINGS_FILE.read_text())

    result = stack_outputs.main(["radiant-production", "--settings", str(settings), "--write"],
                                cloudformation=_cloudformation("UPDATE_ROLLBACK_COMPLETE"))

    assert result == 1 and "UPDATE_ROLLBACK_COMPLETE" in capsys.readouterr().err
    assert settings.read_text() == SETTINGS_FILE.read_text()


def test_missing_outputs_are_refused():
    with pytest.raises(stack_outputs.StackError, match="TaskQueueArn"):
        stack_outputs.apply_outputs(json.loads(SETTINGS_FILE.read_text()), {**STACK, "TaskQueueArn": ""})
