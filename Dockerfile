# tickerbell, the live bot, in a container.
#
#   docker build -t tickerbell .
#   docker run -d --name tickerbell --env-file tickerbell.env -v tickerbell-data:/data tickerbell
#
# Settings come from the environment (TICKERBELL_<SECTION>__<KEY>, see config.example.toml) and
# tokens from their variables (TICKERBELL_TELEGRAM_TOKEN, TICKERBELL_DISCORD_TOKEN). A config file
# works too: mount it and name it, e.g. -v ./tickerbell.toml:/etc/tickerbell.toml:ro
# -e TICKERBELL_CONFIG=/etc/tickerbell.toml. Enable at least one platform: with none, the bot
# falls back to the console, which ends at once without a terminal (-it).

# --- build: the wheel only ---------------------------------------------------------------
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY bot ./bot
COPY jobs ./jobs
COPY storage ./storage
COPY seeds ./seeds
RUN python -m pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

# --- run: the wheel and its dependencies, as a non-root user ------------------------------
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
COPY --from=build /wheels /tmp/wheels
RUN python -m pip install --no-cache-dir --root-user-action=ignore /tmp/wheels/tickerbell-*.whl \
    && rm -rf /tmp/wheels
RUN groupadd --gid 10001 tickerbell \
    && useradd --uid 10001 --gid tickerbell --home-dir /data --no-create-home --shell /usr/sbin/nologin tickerbell \
    && mkdir -p /data \
    && chown tickerbell:tickerbell /data

# The database, primer charts (charts/) and library caches live in /data; a new named volume
# starts with this folder's owner, so the bot can write there.
WORKDIR /data
VOLUME /data
ENV HOME=/data \
    MPLCONFIGDIR=/tmp/matplotlib \
    TICKERBELL_STORAGE__PATH=/data/tickerbell.sqlite3 \
    TICKERBELL_METRICS__ENABLED=true

USER tickerbell
# Calls the metrics endpoint's /healthz, which needs TICKERBELL_METRICS__ENABLED=true (set above);
# whoever turns metrics off should also run the container with --no-healthcheck. The slim image
# has no curl, so Python's urllib asks, bypassing any proxy variables.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; u.build_opener(u.ProxyHandler({})).open('http://127.0.0.1:%s/healthz' % os.environ.get('TICKERBELL_METRICS__PORT', '9464'), timeout=4)"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["tickerbell"]
CMD ["run"]
