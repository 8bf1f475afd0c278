"""The X (Twitter) channel: mentions and recent search through the API v2."""
