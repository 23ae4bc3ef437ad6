/**
 * The interface that holds an IPv4 address, from `ip -o -4 addr show` (one line per address:
 * "2: eth0    inet 192.168.0.10/24 brd ... scope global eth0..."). Pure.
 */
export function interfaceHolding(ipAddrOutput: string, address: string): string | undefined {
  for (const line of ipAddrOutput.split('\n')) {
    const m = /^\d+:\s+([^\s@]+)\s+inet\s+(\d+\.\d+\.\d+\.\d+)\//.exec(line)
    if (m && m[2] === address) return m[1]
  }
  return undefined
}
