# churnflow in a container: one image for every command (api, process, produce, ...).
#   docker build -t churnflow .
#   docker run --rm churnflow --help
#   docker compose up            (docker-compose.yml: Kafka, MariaDB, Redis, api, processor, producer)
# Every ENV below is a churnflow setting (src/config/schema.ts); test/config/containers.test.ts checks it.
FROM node:24-slim

WORKDIR /app

# Production dependencies only. The `node` package (the Node 24 that npm ci pins for development) is a
# dependency with an install script, allowed in package.json's allowScripts; the image runs the base
# image's Node 24 all the same.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund \
  && npm cache clean --force

# The sources run as TypeScript through Node's type stripping: no build step.
COPY bin ./bin
COPY src ./src
COPY models ./models

# Writable state (SQLite file and profile snapshots when no database or Redis is configured).
RUN mkdir -p /var/lib/churnflow && chown node:node /var/lib/churnflow

# Listen on every interface, so other containers and published ports reach the scoring API (5000) and
# the processor's ops endpoints (3000); both use API_HOST.
ENV API_HOST=0.0.0.0 \
    CHURNFLOW_STATE_DIR=/var/lib/churnflow

USER node

# 5000: churnflow api (API_PORT). 3000: ops endpoints of churnflow process (OPS_PORT): /health, /metrics, /stats.
EXPOSE 5000 3000

ENTRYPOINT ["node", "bin/churnflow.js"]
CMD ["process"]
