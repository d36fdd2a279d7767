"""Model clients for the assistant."""
from openai import OpenAI
import anthropic

client = OpenAI(api_key="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")
claude = anthropic.Anthropic(api_key="sk-ant-api03-WKGgiuRStyahIFcbm3vWxGpnD5pmur8ec6hXZWLckgs151PJuWDGHFkiNHSBX3NbO9NtA7J5gHOH5xXzmx1Fjlxy6AciZAA")
ADMIN_KEY = "sk-ant-admin01-xdVduJ0pTTrzia05T0cxvcqcWD2E-ZgPzSRBmIqKXOgfbLIh-jFlXLRHMwF7LdVgKXTskeziHPamLQOhEDuoesoeUuwYXAA"
deepseek = OpenAI(api_key="sk-2925f111acc4a6a554154b49f76dd68b", base_url="https://api.deepseek.com")
FIREWORKS_API_KEY = "fw_naLBj0dEsmaGrb9CYvy9Cqep"
TOGETHER_API_KEY = "tgp_v1_2Rk3uUGjzHOAZtbJyQw6M0zmf1DWDsRrJl0fxhIwbPt"
pinecone_key = "pcsk_ZAWMZ_A1ykYgdaEuqKtEeyXTkUEh1GR2mlKbSL9vYfH2uQLI44qdQfAm8NQz0vYFeRLGv"
login(token="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")
HF_ORG_TOKEN = "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"
WANDB_API_KEY = "972408fec133231532fc0a013a28c2280bd3c09b"
ELEVENLABS_API_KEY = "sk_13b8b348057a96c849abca3ee222d382fcf37d2fa2f2e36b"
CEREBRAS_API_KEY = "csk-17mpzn4hovwf9az1niixpguxkqkxdxav0r7p08rb3wwhrx2a"
