/**
 * Kernel arguments the lab adds to a node's entry, in its private copy only (the loader's whole
 * delta, README "The lab"): the console on the VM's serial port, no timer check (a VM quirk,
 * below), and a one-shot unit that prints the node's hostname, machine-id, resolvers and mount
 * table (what its / is: NFS, or /dev/rbd0) there
 * (systemd.run= would otherwise boot into kernel-command-line.target, hence the unit and
 * wants), so the console proves which root booted and what it resolves names with.
 */
export const LAB_KERNEL_ARGS = [
  'console=ttyS0,115200',
  // An emulated (TCG) VM on a busy host can miss the kernel's IO-APIC timer check and panic
  // ("IO-APIC + timer doesn't work!"); the check proves nothing about the node.
  'no_timer_check',
  'systemd.unit=multi-user.target',
  'systemd.wants=kernel-command-line.service',
  'systemd.run="/usr/bin/grep -H . /etc/hostname /etc/machine-id /etc/resolv.conf /proc/self/mounts"',
  'systemd.run_success_action=none',
  'systemd.run_failure_action=none',
].join(' ')

/** The node's pxelinux file with the lab's arguments appended to every APPEND line; pure. */
export function labPxelinux(text: string, extra = LAB_KERNEL_ARGS): string {
  return text.split('\n').map((line) => (/^\s*APPEND\s/i.test(line) ? `${line.trimEnd()} ${extra}` : line)).join('\n')
}

/**
 * The kernel and initrd a pxelinux file tells the node to load (its DEFAULT label, else the
 * first), relative to the tftp root, so the lab checks the files the node was really sent to.
 */
export function bootFilesOf(text: string): {kernel?: string, initrd?: string} {
  const lines = text.split('\n').map((l) => l.trim())
  const directive = (l: string) => /^(\S+)\s*(.*)$/.exec(l) ?? ['', '', '']
  const wanted = lines.map(directive).find(([, k]) => k.toUpperCase() === 'DEFAULT')?.[2].trim()
  const labels: {name: string, body: string[]}[] = []
  for (const line of lines) {
    const [, key, value] = directive(line)
    if (key.toUpperCase() === 'LABEL') labels.push({name: value.trim(), body: []})
    else labels.at(-1)?.body.push(line)
  }
  const label = labels.find((l) => l.name === wanted) ?? labels[0]
  if (!label) return {}
  const out: {kernel?: string, initrd?: string} = {}
  for (const line of label.body) {
    const [, key, value] = directive(line)
    const k = key.toUpperCase()
    if (k === 'KERNEL' || k === 'LINUX') out.kernel = value.trim()
    else if (k === 'INITRD') out.initrd = value.trim().split(',')[0]
    else if (k === 'APPEND') {
      const initrd = /(?:^|\s)initrd=(\S+)/.exec(value)?.[1]
      if (initrd) out.initrd = initrd.split(',')[0]
    }
  }
  return out
}
