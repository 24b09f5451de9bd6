"""Worker processes (`serve --workers N`): a supervisor binds the listening sockets once and
forks N workers that all accept on them (supervisor.py); what a worker gets from it (context.py);
the worker id on every log line (logid.py)."""
