# pims-sync on the official Playwright Python image of the pinned playwright version, so the
# browser build matches the library exactly (pyproject.toml pins playwright==1.65.2). The image is
# Ubuntu noble with its Python 3.12 and pip, and Playwright's browsers in /ms-playwright.
FROM mcr.microsoft.com/playwright/python:v1.65.2-noble

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOST=0.0.0.0 \
    PORT=3001 \
    TZ=UTC

WORKDIR /app

# The locked runtime dependencies first, in their own layer (it changes only with the lock):
# exactly the versions CI tested, each file checked against its sha256 (`--require-hashes`).
COPY requirements.lock ./
RUN pip install --require-hashes -r requirements.lock

# Then the project itself, without dependencies: they all came from the lock above.
COPY pyproject.toml README.md ./
COPY daemon ./daemon
COPY actors ./actors
COPY providers ./providers
COPY migrations ./migrations
RUN pip install --no-deps . \
 && pip check \
 && useradd --system --create-home --uid 10001 pims-sync

# Run Playwright's Chromium headless shell, not its full browser. Playwright alone picks the
# headless shell for a headless launch, but pims-sync launches the executable it resolves
# (CHROMIUM_PATH, else /usr/bin/chromium, else `playwright.chromium.executable_path`, which is the
# full "Chrome for Testing" build), so without this the image would run the full browser. The
# headless shell of this very Playwright build lies in /ms-playwright/chromium_headless_shell-<rev>/
# (chrome-headless-shell-linux64 or -linux-arm64); a fixed link to it lets CHROMIUM_PATH name it.
# The build fails if there is not exactly one, or if it cannot load a page.
RUN set -eu; \
    set -- /ms-playwright/chromium_headless_shell-*/chrome-headless-shell-linux*/chrome-headless-shell; \
    if [ "$#" -ne 1 ] || [ ! -x "$1" ]; then \
      echo "expected exactly one Playwright headless shell in /ms-playwright, found: $*" >&2; exit 1; \
    fi; \
    ln -s "$1" /usr/local/bin/chromium-headless-shell; \
    timeout 60 /usr/local/bin/chromium-headless-shell --no-sandbox --disable-gpu \
      --dump-dom about:blank | grep -q '<body>'
ENV CHROMIUM_PATH=/usr/local/bin/chromium-headless-shell

USER pims-sync
EXPOSE 3001
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
  CMD python -c "import os,urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:%s/ready' % os.environ.get('PORT','3001'), timeout=5); sys.exit(0)" || exit 1
CMD ["pims-sync", "run"]
