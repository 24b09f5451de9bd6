"""The SMTP front end: session (aiosmtpd subclass), downstream relay, server lifecycle."""
