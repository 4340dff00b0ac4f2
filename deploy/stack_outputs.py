"""Fill zappa_settings.json from the CloudFormation stack's outputs.

    python deploy/stack_outputs.py radiant-production            # show what would change
    python deploy/stack_outputs.py radiant-production --write    # and write it

The stack (deploy/cloudformation/radiant.yaml) creates what the functions run in; Zappa
creates the functions. The values Zappa needs from the stack are copied into the settings
file (committed, so a deploy is reproducible from the tree and reviewable in a diff):

================================  =====================================================
stack output                      zappa_settings.json
================================  =====================================================
``DeploymentBucketName``          ``base.s3_bucket``
``LambdaEnvironmentKeyArn``       ``base.aws_kms_key_arn``
``PrivateSubnetIds``              ``base.vpc_config.SubnetIds``
``LambdaSecurityGroupId``         ``base.vpc_config.SecurityGroupIds``
``TaskQueueUrl``                  ``CELERY_SQS_QUEUE_URL`` of ``production`` (and of any stage with an environment of its own)
``TaskQueueArn``                  ``production_worker.events[].event_source.arn`` (the SQS one)
``DistributionDomainName``        added to the router's ``ALLOWED_HOSTS`` and ``CSRF_TRUSTED_ORIGINS``
================================  =====================================================

Secrets never pass through here: they are SecureString parameters in SSM, read at deploy
time by the ``settings`` callback (deploy/zappa_hooks.py).
"""

import argparse
import copy
import difflib
import json
import sys
from pathlib import Path

SETTINGS_FILE = Path(__file__).resolve().parent.parent / "zappa_settings.json"
REQUIRED_OUTPUTS = (
    "DeploymentBucketName", "LambdaEnvironmentKeyArn", "PrivateSubnetIds", "LambdaSecurityGroupId",
    "TaskQueueUrl", "TaskQueueArn",
)


class StackError(Exception):
    pass


def stack_outputs(cloudformation, stack_name):
    """{OutputKey: OutputValue} of a stack that finished creating or updating."""
    (stack,) = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    status = stack["StackStatus"]
    if not status.endswith("_COMPLETE") or "ROLLBACK" in status:
        raise StackError(f"stack {stack_name} is {status}; its outputs are not to be trusted")
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


def _add_listed(value, item):
    items = [part for part in value.split(",") if part]
    return ",".join(items if item in items else [*items, item])


def apply_outputs(settings, outputs, *, router="production", worker="production_worker"):
    """A copy of the settings dict with the stack's values in place."""
    missing = [key for key in REQUIRED_OUTPUTS if not outputs.get(key)]
    if missing:
        raise StackError(f"the stack has no output {', '.join(missing)}")
    result = copy.deepcopy(settings)
    base = result["base"]
    base["s3_bucket"] = outputs["DeploymentBucketName"]
    base["aws_kms_key_arn"] = outputs["LambdaEnvironmentKeyArn"]
    base["vpc_config"] = {
        "SubnetIds": [subnet for subnet in outputs["PrivateSubnetIds"].split(",") if subnet],
        "SecurityGroupIds": [outputs["LambdaSecurityGroupId"]],
    }
    environment = result[router]["aws_environment_variables"]
    for stage in result.values():  # stages with an environment of their own (the AI proxy's) too
        if "CELERY_SQS_QUEUE_URL" in (stage.get("aws_environment_variables") or {}):
            stage["aws_environment_variables"]["CELERY_SQS_QUEUE_URL"] = outputs["TaskQueueUrl"]
    environment["CELERY_SQS_QUEUE_URL"] = outputs["TaskQueueUrl"]
    if outputs.get("DistributionDomainName"):
        host = outputs["DistributionDomainName"]
        environment["ALLOWED_HOSTS"] = _add_listed(environment["ALLOWED_HOSTS"], host)
        environment["CSRF_TRUSTED_ORIGINS"] = _add_listed(environment["CSRF_TRUSTED_ORIGINS"], f"https://{host}")
    queues = [event for event in result[worker].get("events", []) if "sqs" in event.get("event_source", {}).get("arn", "")]
    if len(queues) != 1:
        raise StackError(f"stage {worker} should have exactly one SQS event source, has {len(queues)}")
    queues[0]["event_source"]["arn"] = outputs["TaskQueueArn"]
    return result


def render(settings):
    return json.dumps(settings, indent=4) + "\n"


def main(argv=None, cloudformation=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stack_name")
    parser.add_argument("--settings", default=str(SETTINGS_FILE))
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args(argv)
    if cloudformation is None:
        import boto3

        cloudformation = boto3.client("cloudformation", region_name=args.region)
    path = Path(args.settings)
    before = path.read_text()
    try:
        after = render(apply_outputs(json.loads(before), stack_outputs(cloudformation, args.stack_name)))
    except StackError as exc:
        print(f"stack_outputs: {exc}", file=sys.stderr)
        return 1
    sys.stdout.writelines(difflib.unified_diff(before.splitlines(True), after.splitlines(True), str(path), str(path)))
    if args.write:
        path.write_text(after)
    return 0


if __name__ == "__main__":
    sys.exit(main())
