# promwire in one image: the bridge (the default command) and the exporter (promwire-exporter).
# docker-compose.yml builds it once and runs both services from it.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY exporter ./exporter
COPY bridge ./bridge
RUN pip install . && rm -rf /src

# The bridge keeps its alert log and token in /data. It runs as uid 65534 ("nobody", as
# Prometheus' and Alertmanager's images do), so the token file it creates (mode 0600) can be read
# by Alertmanager through the shared volume and by nothing else. A new named volume mounted here
# takes this directory's owner.
RUN mkdir /data && chown 65534:65534 /data
WORKDIR /data
USER 65534:65534
VOLUME ["/data"]

EXPOSE 8000 9100
CMD ["promwire-bridge", "--listen", "0.0.0.0:8000", "--data-dir", "/data"]
