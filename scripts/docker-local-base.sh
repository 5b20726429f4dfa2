#!/usr/bin/env bash
# Build a minimal Node base image from this machine's own Node runtime, for
# machines where no registry can be reached to pull node:20-bookworm-slim.
# It mirrors the official image's layout (node in /usr/local/bin, npm in
# /usr/local/lib/node_modules/npm, a `node` user with uid 1000), so the same
# Dockerfile builds on either base. Usage: scripts/docker-local-base.sh TAG
set -euo pipefail
tag=${1:?usage: $0 TAG}

node_bin=$(readlink -f "$(command -v node)")
npm_cli=$(readlink -f "$(command -v npm)")       # .../node_modules/npm/bin/npm-cli.js
npm_dir=$(dirname "$(dirname "$npm_cli")")
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT

mkdir -p "$root"/usr/local/bin "$root"/usr/local/lib/node_modules "$root"/etc/ssl/certs \
         "$root"/tmp "$root"/root "$root"/home/node "$root"/app
cp "$node_bin" "$root"/usr/local/bin/node
# The shared libraries node links to, and the dynamic loader.
for lib in $(ldd "$node_bin" | grep -o '/[^ )]*'); do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
cp -r "$npm_dir" "$root"/usr/local/lib/node_modules/npm
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root"/usr/local/bin/npm
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root"/usr/local/bin/npx
# npm's scripts start with `#!/usr/bin/env node`.
mkdir -p "$root"/usr/bin
cp -L "$(command -v env)" "$root"/usr/bin/env
# npm (in the build stage) talks HTTPS to the registry with the system's CAs.
cp -L /etc/ssl/certs/ca-certificates.crt "$root"/etc/ssl/certs/ 2>/dev/null || true
printf 'root:x:0:0:root:/root:/sbin/nologin\nnode:x:1000:1000:node:/home/node:/sbin/nologin\n' > "$root"/etc/passwd
printf 'root:x:0:\nnode:x:1000:\n' > "$root"/etc/group
chown 1000:1000 "$root"/home/node
chmod 1777 "$root"/tmp

tar -C "$root" -c . | docker import \
  --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
  --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
  --change 'WORKDIR /app' \
  --message "node $(node --version) from $(hostname), for prj4" \
  - "$tag" >/dev/null
echo "built $tag: node $(node --version) and npm $(npm --version 2>/dev/null) from this machine" >&2
