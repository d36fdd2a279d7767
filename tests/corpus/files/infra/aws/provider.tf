provider "aws" {
  region     = "us-west-2"
  access_key = "AKIALN5LVG3FH3ZD4SET"
  secret_key = "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"
}

