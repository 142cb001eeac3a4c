"""The alerts' store in PostgreSQL: alerts, who read them, per-patient rule overrides."""
