"""Plans and subscriptions in PostgreSQL."""
