# The platform's image: one image, one process per container (see compose.yaml).
# The source stays in /app and comes first on sys.path: alembic reads pyproject.toml
# ([tool.alembic]) and migrations/ from the working directory, and the e-mail
# templates (domain/adapters/notifications/templates) are files beside the code, not package data.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONPATH=/app \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml ./
COPY api ./api
COPY domain ./domain
COPY workers ./workers
COPY migrations ./migrations
COPY Procfile ./
RUN pip install .

RUN useradd --system --create-home --home-dir /home/app app \
    && mkdir -p /data \
    && chown app:app /data
USER app
ENV DATA_DIR=/data
EXPOSE 8000

CMD ["uvicorn", "--factory", "api.app:create_app", "--host", "0.0.0.0", "--port", "8000", "--no-access-log", "--timeout-graceful-shutdown", "5"]
