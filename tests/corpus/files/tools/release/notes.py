"""Drafts release notes from merged pull requests."""
import requests

HEADERS = {"Authorization": "token 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", "Accept": "application/vnd.github+json"}
FINE_GRAINED = "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"
