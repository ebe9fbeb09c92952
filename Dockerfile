# marginguard: the same two commands as the README (pip install . ; marginguard ...).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY strategies ./strategies
COPY config ./config
RUN pip install . && useradd --create-home --uid 10001 guard && mkdir -p /data && chown guard /data

# State lives in /data (mount a volume); the config comes from /config (mount it read-only).
ENV MARGINGUARD__DATABASE__PATH=/data/marginguard.db \
    MARGINGUARD__HEALTH__HEARTBEAT_FILE=/data/marginguard.heartbeat \
    MARGINGUARD__GUARD__KILL_SWITCH_FILE=/data/marginguard.pause
USER guard
WORKDIR /data
VOLUME ["/data"]

# Unhealthy when no guard cycle completed for health.max_cycle_age_s (a stuck or dead loop).
HEALTHCHECK --interval=60s --timeout=15s --start-period=90s --retries=2 CMD ["marginguard", "health"]

ENTRYPOINT ["marginguard"]
CMD ["run"]
