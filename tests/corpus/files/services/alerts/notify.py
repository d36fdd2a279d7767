"""Posts alerts to chat channels."""
import requests

WEBHOOK_0 = "https://hooks.slack.com/services/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"
WEBHOOK_1 = "https://hooks.slack.com/services/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"
WEBHOOK_2 = "https://hooks.slack.com/services/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"
WORKFLOW_HOOK = "https://hooks.slack.com/triggers/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"
DISCORD_HOOK_0 = "https://discord.com/api/webhooks/765209020835388488/Bk9SaIcxeyqOFfX9X7jV6gdgdubYmpQUbrXHroPDCsTsWS6NvKlGb0ZSK63fJ0l-XM00"
DISCORD_HOOK_1 = "https://discord.com/api/webhooks/506001465683181596/RFgJf2DY4oYcBFZtV9ewDhE9RKp-X7n3l11HVraJjF5JQ0wdO7Qk_1Fw4apqtZfUjIPe"
TELEGRAM_BOT_TOKEN = "1694477153:AAxgeIjcTLqu4KSCSXOgViS01RX3kV-2jhH"
requests.post(f"https://api.telegram.org/bot9223500043:AAj8lnVM3dnKBIJJNhISI_R2dLu0sI9Ok0_/sendMessage", json=payload)
