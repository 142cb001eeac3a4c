"""E-mail rows, templates, address checks and the mailers."""
