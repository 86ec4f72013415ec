# The engine image for docker-compose.yml: workers, relays and the HTTP API.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY events ./events
COPY engine ./engine
COPY projections ./projections
COPY adapters ./adapters
RUN pip install . && useradd --create-home --uid 10001 fengkong

USER fengkong
# Each service names its command, e.g. `fengkong worker`; see docker-compose.yml.
CMD ["fengkong", "--help"]
