"""E-mail notifications: templates, submitting an e-mail, sending it as a job."""
