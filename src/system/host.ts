import os from 'node:os'
import {type Runner} from './runner.js'

/** The IPv4 addresses this machine holds now, on any interface (loopback left out). */
export function localAddresses(): string[] {
  return Object.values(os.networkInterfaces()).flatMap((list) => list ?? []).filter((a) => a.family === 'IPv4' && !a.internal).map((a) => a.address)
}

/**
 * Puts an address on an interface of this machine, unless it is there already: a server taking
 * over a lost one's address, so that the NFS clients mounted from it reach this one. Returns
 * whether it was added, and whether it was announced (announceAddress). Runtime only
 * (keepalived or the network's own configuration keeps it).
 */
export async function claimAddress(runner: Runner, cidr: string, iface: string): Promise<{added: boolean, announced: boolean}> {
  const address = cidr.split('/')[0]
  const shown = await runner.run('ip', ['-o', '-4', 'addr', 'show', 'dev', iface], {timeout: 10_000})
  const there = shown.stdout.split('\n').some((l) => l.includes(` inet ${address}/`))
  if (!there) await runner.run('ip', ['addr', 'add', cidr, 'dev', iface], {timeout: 10_000})
  return {added: !there, announced: await announceAddress(runner, address, iface)}
}

/**
 * Unsolicited ARP for an address that moved to this machine (arping -U, as keepalived does): the
 * machines on the link that still map it to the lost server's hardware address update at once,
 * instead of after their neighbour entry goes stale (measured: an NFS client waited 135 s
 * without it). False when arping (iputils-arping) is not installed or failed.
 */
export async function announceAddress(runner: Runner, address: string, iface: string): Promise<boolean> {
  const r = await runner.run('arping', ['-q', '-U', '-c', '2', '-I', iface, address], {reject: false, timeout: 15_000}).catch(() => ({exitCode: 127}))
  return r.exitCode === 0
}
