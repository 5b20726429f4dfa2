#!/usr/bin/env bash
# Makes the Swarm stacks' shared secret at set-up: a random 32-byte secret, in
# hex, written to deploy/swarm/secret (mode 600, git-ignored), which
# deploy/swarm/kv3.yml and kv5.yml turn into a swarm secret, mounted in every
# member at /run/secrets/paxos_secret. An existing file is kept. Never commit it.
#
#   bash scripts/swarm-secret.sh [FILE]     (default deploy/swarm/secret)
set -euo pipefail
file=${1:-"$(dirname "$0")/../deploy/swarm/secret"}
if [ -s "$file" ]; then
  exit 0
fi
secret=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
(umask 077 && printf '%s\n' "$secret" >"$file")
chmod 600 "$file"
echo "swarm-secret.sh: wrote a new shared secret to $file" >&2
