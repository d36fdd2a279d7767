"""Uploads ingest batches to S3."""
import boto3


def client():
    return boto3.client(
        "s3",
        aws_access_key_id="AKIAKGNZGNHZ27NZER44",
        aws_secret_access_key="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",
        region_name="us-east-1",
    )

