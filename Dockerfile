# pims-sync on the official Playwright Python image of the pinned playwright version, so the
# browser build matches the library exactly (pyproject.toml pins playwright==1.65.2).
FROM mcr.microsoft.com/playwright/python:v1.65.2-noble

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    HOST=0.0.0.0 \
    PORT=3001 \
    TZ=UTC

WORKDIR /app
COPY pyproject.toml README.md ./
COPY daemon ./daemon
COPY actors ./actors
COPY providers ./providers
COPY migrations ./migrations
RUN pip install . \
 && useradd --system --create-home --uid 10001 pims-sync

USER pims-sync
EXPOSE 3001
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
  CMD python -c "import os,urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:%s/ready' % os.environ.get('PORT','3001'), timeout=5); sys.exit(0)" || exit 1
CMD ["pims-sync", "run"]
