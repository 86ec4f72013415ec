"""Who may do what: API keys and their roles, for the HTTP API and the CLI's operator and admin commands."""
