import path from 'node:path'

import {type Root} from '../../system/paths.js'
import {type LabDaemon, type LabEnv, type LabAck} from '../types.js'
import {acksIn, generatedTexts} from './lab-daemon.js'

const INCLUDE = /^(\s*include\s+")([^"]+)("\s*;.*)$/

/** The lab's copy of dhcpd.conf: under a --root other than "/", each include names its file on disk; nothing else changes. */
export function labDhcpdConf(main: string, root: Root): string {
  if (root.isHost) return main
  return main.split('\n').map((line) => {
    const m = INCLUDE.exec(line)
    return m ? `${m[1]}${root.resolve(m[2])}${m[3]}` : line
  }).join('\n')
}

/**
 * Lease state that makes dhcpd offer each MAC its address first: a free lease that remembers
 * the MAC, as one a machine held before. It binds nothing: dhcpd may still hand the address to
 * another machine when no free one is left, exactly as in the field.
 */
export function seededLeases(offers: readonly {mac: string, ip: string}[]): string {
  return offers.map((o) => `lease ${o.ip} {\n  binding state free;\n  hardware ethernet ${o.mac};\n}\n`).join('')
}

/**
 * ISC dhcpd as the lab runs it: the generated dhcpd.conf and the include it names, read from
 * disk as they are. The whole delta (README, "The lab"): the lease file, pid file and log in the
 * run directory, the lab's interface on the command line, the include paths resolved under
 * --root, and the lease file seeded with `offers`.
 */
export function iscDhcpdLab(env: LabEnv, mainPath: string): LabDaemon {
  const main = generatedTexts(env, [mainPath])[mainPath]
  const file = (name: string) => path.join(env.runDir, name)
  return {
    files: [{name: 'dhcpd.conf', content: labDhcpdConf(main, env.root)}, {name: 'dhcpd.leases', content: seededLeases(env.offers ?? [])}],
    program: 'dhcpd',
    args: ['-f', '-d', '-4', '-cf', file('dhcpd.conf'), '-lf', file('dhcpd.leases'), '-pf', file('dhcpd.pid'), env.iface],
    log: file('dhcpd.log'),
    ready: 'Server starting service',
    logsItself: false,
    acks: dhcpdAcks,
    leaseFile: file('dhcpd.leases'),
  }
}

/** The DHCPACKs of dhcpd's log (`-d`): which address went to which MAC. */
export function dhcpdAcks(log: string): LabAck[] {
  return acksIn(log, /^DHCPACK on (\d+\.\d+\.\d+\.\d+) to ([0-9a-f:]{17})/gim, 1, 2)
}
