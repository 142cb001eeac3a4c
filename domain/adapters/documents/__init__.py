"""Documents in PostgreSQL, the PDF gate and the streaming cipher."""
