# pmo: migrate, seed and serve. Point it at PostgreSQL with PMO_DATABASE_URL, e.g.
#   docker run -p 8000:8000 -e PMO_DATABASE_URL=postgresql+psycopg://pmo:secret@db:5432/pmo pmo
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

RUN useradd --system --create-home --home-dir /home/pmo --uid 10001 pmo

# Dependencies first, from the lock (exact versions, verified hashes), so a code change reinstalls nothing.
COPY requirements/runtime.txt requirements/runtime.txt
RUN pip install --require-hashes -r requirements/runtime.txt

# The app finds alembic.ini, migrations/ and seeds/ next to src/ (PROJECT_ROOT in src/pmo/config.py),
# so the package stays an editable install of /app rather than a copy in site-packages. No tests, no bench.
COPY pyproject.toml README.md alembic.ini ./
COPY src src
COPY migrations migrations
COPY seeds seeds
RUN pip install --no-deps -e . \
    && mkdir -p /app/var \
    && chown -R pmo:pmo /app/var

USER pmo
EXPOSE 8000

# The default SQLite file (var/pmo.sqlite3) is only for trying the image; set PMO_DATABASE_URL.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4).status != 200)"

CMD ["sh", "-c", "pmo db upgrade && pmo seed && exec pmo serve --host 0.0.0.0 --port 8000"]
