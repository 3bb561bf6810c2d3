"""The images: a private, encrypted, SSL-only bucket whose objects expire, with access logs."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.nag import acknowledge

IMAGES_PREFIX = "images/"


class ImageBucket(Construct):
    def __init__(self, scope: Construct, id: str, *, retention_days: int, removal_policy: RemovalPolicy) -> None:
        super().__init__(scope, id)
        access_logs = s3.Bucket(
            self,
            "AccessLogs",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(365))],
            removal_policy=removal_policy,
        )
        acknowledge(
            access_logs,
            "AwsSolutions-S1",
            "This bucket receives the image bucket's access logs; logging it too would loop.",
        )
        transitions = (
            [s3.Transition(storage_class=s3.StorageClass.INFREQUENT_ACCESS, transition_after=Duration.days(30))]
            if retention_days > 60
            else None
        )
        self.bucket = s3.Bucket(
            self,
            "Images",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="images-bucket/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireImages",
                    prefix=IMAGES_PREFIX,
                    expiration=Duration.days(retention_days),
                    transitions=transitions,
                ),
                s3.LifecycleRule(id="AbortUploads", abort_incomplete_multipart_upload_after=Duration.days(1)),
            ],
            removal_policy=removal_policy,
        )

    def images_arn(self) -> str:
        return self.bucket.arn_for_objects(f"{IMAGES_PREFIX}*")
