#!/usr/bin/env bash
# Makes a kv testcase's TLS files at set-up (scripts/kv-secret.sh runs it):
# a test CA and one certificate per peer of DIR/hostsfile, named as the
# hostsfile names it (peers and clients check that name), by
# scripts/test-ca.sh, into DIR/tls (git-ignored). The compose file mounts
# DIR/tls/ca.crt and each peer's PEER.crt and PEER.key read-only. Valid for
# 30 days; files that are missing, for other names, or expire within a day
# are made anew, all of them. The CA's key is deleted once they are signed.
#
# The containers run as uid 1000 (user node), which must read its key: run
# as root, the keys are given to uid 1000 (mode 600); run as uid 1000, they
# are already its; as anyone else, they are made readable by every user of
# this host (mode 644), and a line says so. Test keys only: never commit them.
#
#   bash scripts/kv-tls.sh testcases/kv3 [testcases/kv5 ...]
set -euo pipefail
if [ "$#" -eq 0 ]; then
  echo "usage: bash scripts/kv-tls.sh DIR... (a kv testcase directory, e.g. testcases/kv3)" >&2
  exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
openssl=${OPENSSL:-openssl}
# The image's user (Dockerfile: USER node).
container_uid=1000

for dir in "$@"; do
  if [ ! -f "$dir/hostsfile" ]; then
    echo "kv-tls.sh: $dir has no hostsfile; give a testcase directory, e.g. testcases/kv3" >&2
    exit 2
  fi
  tls="$dir/tls"
  # The hostsfile's names: HOST:ROLE lines, comments and blank lines skipped.
  mapfile -t names < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$dir/hostsfile" | grep -v '^$' | cut -d: -f1)
  fresh=yes
  [ -f "$tls/ca.crt" ] || fresh=no
  for n in "${names[@]}"; do
    [ "$fresh" = yes ] || break
    if [ ! -f "$tls/$n.crt" ] || [ ! -f "$tls/$n.key" ] ||
      ! "$openssl" x509 -in "$tls/$n.crt" -noout -checkend 86400 >/dev/null 2>&1 ||
      ! "$openssl" verify -CAfile "$tls/ca.crt" "$tls/$n.crt" >/dev/null 2>&1 ||
      ! "$openssl" x509 -in "$tls/$n.crt" -noout -ext subjectAltName 2>/dev/null | grep -q "DNS:$n\(,\|$\)"; then
      fresh=no
    fi
  done
  if [ "$fresh" = no ]; then
    rm -rf "$tls"
    TEST_CA_DAYS=30 bash "$here/test-ca.sh" "$tls" "${names[@]}"
    rm -f "$tls/ca.key"
    echo "kv-tls.sh: wrote a new test CA and certificates for ${names[*]} to $tls" >&2
  fi
  # The directory and certificates readable; each key for the containers' user only, where this host allows it.
  chmod 755 "$tls"
  chmod 644 "$tls"/*.crt
  if [ "$(id -u)" -eq 0 ]; then
    chown "$container_uid:$container_uid" "$tls"/*.key
    chmod 600 "$tls"/*.key
  elif [ "$(id -u)" -eq "$container_uid" ]; then
    chmod 600 "$tls"/*.key
  else
    chmod 644 "$tls"/*.key
    if [ "$fresh" = no ]; then
      echo "kv-tls.sh: made the keys in $tls readable by every user of this host, so the containers' user" \
        "(uid $container_uid) can read them: test keys only" >&2
    fi
  fi
done
