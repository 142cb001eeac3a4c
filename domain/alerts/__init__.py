"""Health alerts: what a worrying reading, a streak of missed doses or low adherence raises for
a patient and their connected doctors; one open alert per patient and rule, read,
acknowledged and resolved."""
