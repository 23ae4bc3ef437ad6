import os from 'node:os'

/** The IPv4 addresses this machine holds now, on any interface (loopback left out). */
export function localAddresses(): string[] {
  return Object.values(os.networkInterfaces()).flatMap((list) => list ?? []).filter((a) => a.family === 'IPv4' && !a.internal).map((a) => a.address)
}
