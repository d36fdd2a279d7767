"""Settings read from the environment; nothing secret is stored here."""
import os

AWS_ACCESS_KEY_ID = os.environ["AWS_ACCESS_KEY_ID"]
AWS_SECRET_ACCESS_KEY = os.environ.get("AWS_SECRET_ACCESS_KEY", "")
AWS_SESSION_TOKEN = os.getenv("AWS_SESSION_TOKEN")
aws_secret_access_key = settings.aws_secret_access_key
AWS_SECRET_KEY_PARAM = "/prod/ingest/aws_secret_access_key"
