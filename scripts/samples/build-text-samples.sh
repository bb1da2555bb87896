#!/bin/sh
# Rebuilds the text samples (models/debian_sections, models/debian_embeddings) from this machine's
# apt lists. Needs: apt-get update; apt-get install -y lz4 python3-sklearn python3-onnx. Its outputs
# are committed; nothing at build, serve or test time runs it.
set -e
cd "$(dirname "$0")/../.."
packages=$(mktemp)
lz4cat /var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages.lz4 > "$packages"
node scripts/samples/debian-texts.ts "$packages" "$packages.jsonl"
/usr/bin/python3 training/train_text_samples.py "$packages.jsonl"
rm -f "$packages" "$packages.jsonl"
