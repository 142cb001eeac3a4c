"""The web portal: plain ES modules and CSS (no build step) served by the API process itself.

The pages live in ``static/`` and talk only to the public JSON API on the same origin.
``index.html`` answers ``/`` and the two paths the e-mailed links open
(``/verify-email``, ``/reset-password``); everything else is a file under ``/portal``.
"""
