#!/usr/bin/env bash
# Makes a kv testcase's shared secret at set-up: a random 32-byte secret, in
# hex, written as PAXOS_SECRET=... to DIR/.env (mode 600, git-ignored), which
# `docker compose` reads for the compose file's ${PAXOS_SECRET}. Every
# container gets it in its environment, so the replicas run secure and
# `docker compose exec peerN paxos ...` finds it too. An existing .env with a
# PAXOS_SECRET is kept. Never commit the file.
# Then it runs scripts/kv-tls.sh on each DIR: the replicas speak TLS too,
# with a test CA and certificates in DIR/tls (git-ignored).
#
#   bash scripts/kv-secret.sh testcases/kv3 [testcases/kv5 ...]
set -euo pipefail
if [ "$#" -eq 0 ]; then
  echo "usage: bash scripts/kv-secret.sh DIR... (a kv testcase directory, e.g. testcases/kv3)" >&2
  exit 2
fi
for dir in "$@"; do
  if [ ! -f "$dir/docker-compose.yml" ]; then
    echo "kv-secret.sh: $dir has no docker-compose.yml; give a testcase directory, e.g. testcases/kv3" >&2
    exit 2
  fi
  env_file="$dir/.env"
  if [ -f "$env_file" ] && grep -q '^PAXOS_SECRET=.' "$env_file"; then
    continue
  fi
  secret=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
  (umask 077 && printf 'PAXOS_SECRET=%s\n' "$secret" >>"$env_file")
  chmod 600 "$env_file"
  echo "kv-secret.sh: wrote a new shared secret to $env_file" >&2
done
bash "$(dirname "$0")/kv-tls.sh" "$@"
