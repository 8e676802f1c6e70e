#!/usr/bin/env python3
"""Validates deploy/*.json against AWS's own API models (botocore's service models, the ones
the AWS CLI uses for `aws s3api put-bucket-...`), so a file that would be refused by
`put-bucket-lifecycle-configuration` fails here first, and the SQS policies name only real
SQS actions. Prints one line per file; exits 1 if any is invalid. Usage: deploy/validate.py
[DIR]"""

import json
import pathlib
import sys

import botocore.session
from botocore.validate import ParamValidator

# policies whose `sqs:` actions must each be an operation of SQS's model
SQS_POLICIES = ["iam-policy-sqs.json", "sqs-queue-policy.json"]

# file -> (operation, parameter holding the document)
DOCUMENTS = {
    "lifecycle.json": ("PutBucketLifecycleConfiguration", "LifecycleConfiguration"),
    "notification.json": ("PutBucketNotificationConfiguration", "NotificationConfiguration"),
    "notification-sqs.json": ("PutBucketNotificationConfiguration", "NotificationConfiguration"),
    "cors.json": ("PutBucketCors", "CORSConfiguration"),
}


def main() -> int:
    folder = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).parent)
    model = botocore.session.get_session().get_service_model("s3")
    validator = ParamValidator()
    failed = 0
    for name, (operation, param) in DOCUMENTS.items():
        doc = json.loads((folder / name).read_text())
        shape = model.operation_model(operation).input_shape
        report = validator.validate({"Bucket": "YOUR-BUCKET", param: doc}, shape)
        if report.has_errors():
            print(f"{name}: invalid for {operation}: {report.generate_report()}")
            failed += 1
        else:
            print(f"{name}: valid {operation} input")
    sqs = set(botocore.session.get_session().get_service_model("sqs").operation_names)
    for name in SQS_POLICIES:
        doc = json.loads((folder / name).read_text())
        actions = []
        for statement in doc["Statement"]:
            listed = statement["Action"]
            actions += [listed] if isinstance(listed, str) else listed
        unknown = [a for a in actions if not a.startswith("sqs:") or a[4:] not in sqs]
        if unknown:
            print(f"{name}: invalid: not SQS actions: {', '.join(unknown)}")
            failed += 1
        else:
            print(f"{name}: valid SQS actions ({', '.join(actions)})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
