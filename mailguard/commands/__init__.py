"""The commands of the CLI other than `serve`, one module each."""
