/**
 * Which machines have an NFS connection to this server now: established TCP connections to port
 * 2049, from the kernel's socket table (/proc/net/tcp and tcp6, or a daemon's own view of them in
 * its network namespace, /proc/PID/net/tcp). The initramfs mounts a node's root over NFSv3/TCP and
 * keeps the connection while the node runs, for nfs-kernel-server and NFS-Ganesha alike. Pure.
 */
const NFS_PORT = 2049
const ESTABLISHED = '01'

function ipv4FromHex(hex: string): string {
  // /proc/net/tcp prints each 32-bit word in host (little-endian) order.
  return [6, 4, 2, 0].map((i) => Number.parseInt(hex.slice(i, i + 2), 16)).join('.')
}

/** The IPv4 address of a /proc/net/tcp or tcp6 address field, when it is one (IPv4-mapped IPv6 included). */
function ipv4Of(addressHex: string): string | undefined {
  if (addressHex.length === 8) return ipv4FromHex(addressHex)
  // ::ffff:a.b.c.d is 0000000000000000FFFF0000 followed by the IPv4 word.
  if (addressHex.length === 32 && /^0{16}FFFF0000/i.test(addressHex)) return ipv4FromHex(addressHex.slice(24))
  return undefined
}

export function nfsClientsIn(socketTables: readonly string[]): Set<string> {
  const clients = new Set<string>()
  for (const table of socketTables) {
    for (const line of table.split('\n').slice(1)) {
      const [, local, remote, state] = line.trim().split(/\s+/)
      if (!local || state !== ESTABLISHED) continue
      const [, localPort] = local.split(':')
      if (Number.parseInt(localPort, 16) !== NFS_PORT) continue
      const ip = ipv4Of(remote.split(':')[0])
      if (ip) clients.add(ip)
    }
  }
  return clients
}
