#!/usr/bin/env bash
# The main job on the embedded default, from a fresh Debian/Ubuntu machine, as root: install what
# pxeroot drives, build it, then under a demo root (never the host's /etc) describe the classic
# recipe's network, build a debian-bookworm image, clone two nodes (one bound by MAC, one by
# address), write the boot configuration and prove both nodes PXE-boot, in VMs in a sealed network
# namespace. Set PXEROOT_DEMO_ROOT to put the demo elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "demo: run as root (debootstrap, mounts and network namespaces need it)" >&2; exit 3; }

bash .ci/install-packages
[ -d node_modules ] || npm ci --no-audit --no-fund
npm run build

export PXEROOT_ROOT="${PXEROOT_DEMO_ROOT:-/var/tmp/pxeroot-demo}"
mkdir -p "$PXEROOT_ROOT"
pxeroot() { ./bin/run.js "$@"; }

set -x
pxeroot init --force --server 192.168.0.10 --subnet 192.168.0.0/24 --router 192.168.0.10 \
  --dns 8.8.8.8 --domain exemplo.com --nodes 192.168.0.200-192.168.0.210 --nfs ganesha
pxeroot image list --json | grep -q '"name": "debian-bookworm"' || pxeroot image build debian-bookworm
pxeroot nodes list --json | grep -q '"node01"' || pxeroot nodes add node01 --mac 52:54:00:00:00:01
pxeroot nodes clone 2
pxeroot apply
pxeroot nodes list
pxeroot lab boot node01 node02 --timeout 600
