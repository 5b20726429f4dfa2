# The prj4 image: its ENTRYPOINT is the peer, so compose's
# `command: -h hostsfile -v X -t 10` passes only flags, as in the lab.
#
#   docker build -t prj4 .            (pulls node:20-bookworm-slim)
#   npm run docker:build              (the same, or, where no registry can be
#                                      reached, on a base image built from this
#                                      machine's own node; see the README)
#
# RUN steps use the exec form, so they also work on that shell-less base.

ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"]
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN ["node", "node_modules/typescript/bin/tsc", "-p", "tsconfig.build.json"]
RUN ["npm", "prune", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund"]
# An empty directory for peers' durable state, and a `paxos` command for
# `docker compose exec peer1 paxos get --from peer3` (no shell to do this with).
RUN ["node", "-e", "const fs = require('fs'); fs.mkdirSync('/src/paxos-data'); fs.mkdirSync('/src/bin'); fs.writeFileSync('/src/bin/paxos', '#!/usr/bin/env node\\nimport(\\'/app/dist/src/cli/main.js\\');\\n', { mode: 0o755 });"]

FROM ${NODE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
# Only production dependencies and the compiled JS.
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist/src ./dist/src
# The default --data-dir is ./paxos-data/HOST: writable by the peer's user,
# and kept across `docker stop`/`docker start` of the same container.
COPY --from=build --chown=node:node /src/paxos-data ./paxos-data
COPY --from=build /src/bin/paxos /usr/local/bin/paxos
USER node
EXPOSE 8080
# node runs as PID 1, which gets no default signal handling; the peer handles
# SIGTERM and SIGINT itself and exits within a second.
ENTRYPOINT ["node", "/app/dist/src/cli/main.js"]
