"""Canary secrets for the engine's redaction tests: planted in settings, they must appear in no
journal row, log line, metric or notification."""

CANARY_KEY = "0x" + "c4" * 32
CANARY_PASSWORD = "canary-keystore-pw-7731"
CANARY_API_SECRET = "canary-api-secret-55aa"
CANARY_TG_TOKEN = "123456:canary-telegram-token"
CANARIES = (CANARY_KEY, CANARY_PASSWORD, CANARY_API_SECRET, CANARY_TG_TOKEN, "c4c4c4c4c4c4c4c4")
PAP = "0x2f39d218133AFaB8F2B819B1066c7E434Ad94E9e"  # a PoolAddressesProvider address for fake chains
