"""The sample Flask application the SIEM watches: a small notes API behind gunicorn, logging ECS-shaped JSON."""
