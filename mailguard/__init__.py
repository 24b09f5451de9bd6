"""mailguard: an asyncio SMTP filtering proxy for Postfix."""

__version__ = "0.1.0"
