#!/usr/bin/env bash
# `npm run docker:build`: build the prj4 image.
# Uses the standard Node base image (node:20-bookworm-slim) when it is present
# or can be pulled. Where no registry can be reached, it builds a minimal
# local base image from this machine's own node (scripts/docker-local-base.sh)
# and builds on that instead. Either way it is the same Dockerfile.
set -euo pipefail
cd "$(dirname "$0")/.."

node_image=${NODE_IMAGE:-node:20-bookworm-slim}
local_base=prj4-node-base:local

if docker image inspect "$node_image" >/dev/null 2>&1; then
  base=$node_image
elif timeout 120 docker pull "$node_image" >/dev/null 2>&1; then
  base=$node_image
else
  echo "docker:build: cannot pull $node_image (no registry reachable?); building a local base from this machine's node $(node --version)" >&2
  scripts/docker-local-base.sh "$local_base"
  base=$local_base
fi
echo "docker:build: building prj4 on $base" >&2
docker build --build-arg NODE_IMAGE="$base" -t prj4 .
