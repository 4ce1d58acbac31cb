# pmo: migrate, seed and serve. Point it at PostgreSQL with PMO_DATABASE_URL, e.g.
#   docker run -p 8000:8000 -e PMO_DATABASE_URL=postgresql+psycopg://pmo:secret@db:5432/pmo pmo
# Two stages: the builder installs the lock into /opt/venv; the final image copies only that venv and
# what the app reads at run time (no tests, no bench, no pip caches, no build tools beyond the base image).

FROM python:3.11-slim AS builder

ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN python -m venv /opt/venv

# Dependencies first, from the lock (exact versions, verified hashes), so a code change reinstalls nothing.
COPY requirements/runtime.txt /tmp/runtime.txt
RUN /opt/venv/bin/pip install --require-hashes -r /tmp/runtime.txt

# pmo itself as an editable install of /app: the app finds alembic.ini, migrations/ and seeds/ next to
# src/ (PROJECT_ROOT in src/pmo/config.py), so the package must stay at /app/src, not in site-packages.
# The venv's .pth entry and the `pmo` script name /app/src and /opt/venv: the final stage keeps both paths.
WORKDIR /app
COPY pyproject.toml README.md ./
COPY src src
RUN /opt/venv/bin/pip install --no-deps -e .


FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH

RUN useradd --system --create-home --home-dir /home/pmo --uid 10001 pmo

WORKDIR /app
COPY --from=builder /opt/venv /opt/venv
COPY pyproject.toml README.md alembic.ini ./
COPY src src
COPY migrations migrations
COPY seeds seeds
# var/ holds the default SQLite file, the dashboards' session key and multi-worker metric files.
RUN mkdir -p /app/var && chown pmo:pmo /app/var

USER pmo
EXPOSE 8000

# The default SQLite file (var/pmo.sqlite3) is only for trying the image; set PMO_DATABASE_URL.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4).status != 200)"

CMD ["sh", "-c", "pmo db upgrade && pmo seed && exec pmo serve --host 0.0.0.0 --port 8000"]
