/**
 * A writer put into a node's root for the lab (the test's own fixture, not the lab's delta): a
 * unit that appends a counter to a file every second, fsyncs it, and says so on the serial
 * console, `pxeroot-lab: write N synced at EPOCH`; the lab follows those lines (lab/pair.ts:
 * writesIn), and the file in the root says afterwards what reached the server.
 */
import {promises as fs} from 'node:fs'
import path from 'node:path'

/** The writer's file, relative to the node's root. */
export const WRITES_FILE = 'var/tmp/pxeroot-lab-writes'

const SCRIPT = `#!/bin/sh
# pxeroot lab: a counter appended and synced every second, each sync said on the console.
n=0
while :; do
  n=$((n + 1))
  printf '%d %s\\n' "$n" "$(date +%s)" >> /${WRITES_FILE}
  sync /${WRITES_FILE} && echo "pxeroot-lab: write $n synced at $(date +%s)" > /dev/ttyS0
  sleep 1
done
`

const UNIT = `[Unit]
Description=pxeroot lab: write and sync a counter every second
After=local-fs.target

[Service]
ExecStart=/usr/local/sbin/pxeroot-lab-writes

[Install]
WantedBy=multi-user.target
`

export async function writerInRoot(root: string): Promise<void> {
  const at = (p: string) => path.join(root, p)
  await fs.mkdir(at('usr/local/sbin'), {recursive: true})
  await fs.writeFile(at('usr/local/sbin/pxeroot-lab-writes'), SCRIPT, {mode: 0o755})
  await fs.writeFile(at('etc/systemd/system/pxeroot-lab-writes.service'), UNIT)
  await fs.mkdir(at('etc/systemd/system/multi-user.target.wants'), {recursive: true})
  await fs.symlink('../pxeroot-lab-writes.service', at('etc/systemd/system/multi-user.target.wants/pxeroot-lab-writes.service'))
}
