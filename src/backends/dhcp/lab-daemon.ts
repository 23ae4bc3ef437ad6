/**
 * How the lab runs a DHCP daemon on the files `apply` generated (issue 11, phase 2). Each backend
 * has a pure `labDaemon<Name>` function; the delta is the smallest that lets the daemon run in
 * the lab's sealed namespace: its private paths (lease file, pid file, control socket, and the
 * generated files' own copies), the lab's interface, and logging to stdout. Nothing else of the
 * generated configuration changes.
 */

/** What the lab gives the function. */
export interface LabDhcpSetup {
  /** The generated files by host path, as they are on disk. */
  files: ReadonlyMap<string, string>
  /** The lab's bridge: the only interface the daemon serves. */
  interface: string
  /** A private directory (a disk path) for the daemon's configs and state. */
  runDir: string
}

/** A DHCP answer in a daemon's log: which address went to which MAC. */
export interface LabLease {
  ip: string
  mac: string
}

/** What the lab writes and runs, and how it reads the daemon's log. */
export interface LabDhcpDaemon {
  /** Files to write before the start, by disk path (in runDir). */
  files: {path: string, content: string}[]
  /** The daemon in the foreground, logging to stdout/stderr; run inside the lab's network namespace. */
  command: string
  args: string[]
  env: Record<string, string>
  /** A log line that means it listens on the lab's interface. */
  serving: RegExp
  /** The leases (full mode) or PXE answers (proxy mode, ip "") its log shows, in order, MACs lowercase. */
  leases(log: string): LabLease[]
}

/** Every match of a log pattern as a lease, from the groups that hold the address and the MAC. */
export function leasesIn(log: string, pattern: RegExp, ipGroup: number, macGroup: number): LabLease[] {
  return [...log.matchAll(pattern)].map((m) => ({ip: m[ipGroup] ?? '', mac: m[macGroup].toLowerCase()}))
}
