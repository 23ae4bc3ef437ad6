import os from 'node:os'
import {type Runner} from './runner.js'

/** The IPv4 addresses this machine holds now, on any interface (loopback left out). */
export function localAddresses(): string[] {
  return Object.values(os.networkInterfaces()).flatMap((list) => list ?? []).filter((a) => a.family === 'IPv4' && !a.internal).map((a) => a.address)
}

/**
 * Puts an address on an interface of this machine, unless it is there already: a server taking
 * over a lost one's address, so that the NFS clients mounted from it reach this one. Returns
 * whether it was added. Runtime only (keepalived or the network's own configuration keeps it).
 */
export async function claimAddress(runner: Runner, cidr: string, iface: string): Promise<boolean> {
  const shown = await runner.run('ip', ['-o', '-4', 'addr', 'show', 'dev', iface], {timeout: 10_000})
  if (shown.stdout.split('\n').some((l) => l.includes(` inet ${cidr} `) || l.includes(` inet ${cidr.split('/')[0]}/`))) return false
  await runner.run('ip', ['addr', 'add', cidr, 'dev', iface], {timeout: 10_000})
  return true
}
