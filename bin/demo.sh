#!/usr/bin/env bash
# The main job on the embedded default, from a fresh Debian/Ubuntu machine, as root: install what
# pxeroot drives, build it, then under a demo root (never the host's /etc) describe the classic
# recipe's network, put images and node roots on btrfs storage in a sparse 20G image file, build a
# debian-bookworm image, clone two nodes by snapshot (one bound by MAC, one by address), write the
# boot configuration and prove both nodes PXE-boot, in VMs in a sealed network namespace. Set
# PXEROOT_DEMO_ROOT to put the demo elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "demo: run as root (debootstrap, mounts and network namespaces need it)" >&2; exit 3; }

# apt's and npm's pages go to a log file; the terminal gets pxeroot's own progress.
LOG="${PXEROOT_DEMO_LOG:-/var/tmp/pxeroot-demo-setup.log}"
: >"$LOG"
quietly() {
  "$@" >>"$LOG" 2>&1 || { echo "demo: \"$*\" failed; the end of $LOG:" >&2; tail -n 25 "$LOG" >&2; exit 1; }
}
echo "demo: installing the system packages and building pxeroot (their output: $LOG)"
quietly bash .ci/install-packages
[ -d node_modules ] || quietly npm ci --no-audit --no-fund
quietly npm run build
[ -z "${PXEROOT_DEMO_SETUP_ONLY:-}" ] || { echo "demo: set up; PXEROOT_DEMO_SETUP_ONLY is set, so stopping here"; exit 0; }

export PXEROOT_ROOT="${PXEROOT_DEMO_ROOT:-/var/tmp/pxeroot-demo}"
mkdir -p "$PXEROOT_ROOT"
pxeroot() {
  printf '\n==> pxeroot %s\n' "$*"
  ./bin/run.js "$@"
}

# A demo root from before the demo used btrfs storage has its image and roots on plain disk,
# where storage prepare refuses to hide them: that old demo state is dropped, once.
if [ ! -e "$PXEROOT_ROOT/var/lib/pxeroot/storage.json" ] && [ -n "$(ls -A "$PXEROOT_ROOT/srv/pxeroot/images" "$PXEROOT_ROOT/srv/nodes" 2>/dev/null)" ]; then
  echo "demo: removing the images and node roots of an earlier demo run (not on btrfs storage)" >&2
  rm -rf --one-file-system "$PXEROOT_ROOT/srv/pxeroot/images" "$PXEROOT_ROOT/srv/nodes" "$PXEROOT_ROOT/etc/pxeroot/nodes.yaml"
fi

pxeroot init --force --server 192.168.0.10 --subnet 192.168.0.0/24 --router 192.168.0.10 \
  --dns 8.8.8.8 --domain exemplo.com --nodes 192.168.0.200-192.168.0.210 --nfs ganesha
# btrfs under paths.images and paths.nodes: revisions become subvolumes, clones snapshots of them
# ("already prepared" on a second run; after a reboot it mounts the file again).
pxeroot storage prepare --file /var/lib/pxeroot/storage.img --size 20G
pxeroot image list --json | grep -q '"name": "debian-bookworm"' || pxeroot image build debian-bookworm
pxeroot nodes list --json | grep -q '"node01"' || pxeroot nodes add node01 --mac 52:54:00:00:00:01
pxeroot nodes clone 2
pxeroot apply
pxeroot nodes list
pxeroot lab boot node01 node02 --timeout 600 --accel "${PXEROOT_LAB_ACCEL:-auto}"
