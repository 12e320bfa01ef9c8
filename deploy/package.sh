#!/usr/bin/env bash
# Collects a release build into one folder to copy to a server:
#   DEST/gatehouse   the server binary
#   DEST/hash.txt    names of the hashed wasm/js/css files (read from the binary's folder)
#   DEST/site/       the site root: pkg/ (hashed, with .br and .gz copies) and public files
# Usage: deploy/package.sh DEST   (after `cargo leptos build --release` with hashed files)
set -euo pipefail
dest="$1"
root="$(cd "$(dirname "$0")/.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
site="${RELEASE_SITE:-$root/target/release-site}"
for needed in "$target/release/gatehouse" "$target/release/hash.txt" "$site/pkg"; do
  [ -e "$needed" ] || { echo "package.sh: $needed is missing; run make release" >&2; exit 1; }
done
rm -rf "$dest"
mkdir -p "$dest"
cp "$target/release/gatehouse" "$target/release/hash.txt" "$dest/"
cp -r "$site" "$dest/site"
cp "$root/deploy/gatehouse.service" "$root/.env.example" "$dest/"
# cargo-leptos writes fast .gz copies; gzip's best (smallest) level is worth it for files every
# first visit downloads (the wasm: about 15 % smaller). -n leaves out names and times.
for file in "$dest"/site/pkg/*.wasm "$dest"/site/pkg/*.js "$dest"/site/pkg/*.css; do
  [ -e "$file" ] && gzip -9 -n -c "$file" >"$file.gz"
done
echo "packaged into $dest:"
(cd "$dest" && du -sh gatehouse site && ls site/pkg)
