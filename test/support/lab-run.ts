/**
 * What the lab's VM tests share: running `lab boot` in-process for its result, and proving that
 * a run left nothing behind (namespaces, mounts, processes of this test process's runs only:
 * other engineers' VMs and servers may share the machine).
 */
import {execa} from 'execa'
import {promises as fs} from 'node:fs'

import {type Context} from '../../src/system/context.js'
import {type LabBootOptions, type LabBootResult} from '../../src/lab/run.js'
import {labBoot} from '../../src/services/lab-boot.js'
import {RUN_ENV} from '../../src/system/daemon.js'
import {NETNS_PREFIX} from '../../src/system/netns.js'

/** The `ps` lines of processes a lab run of this test process started (they carry its run in their environment). */
async function ours(lines: string[]): Promise<string[]> {
  const out: string[] = []
  for (const line of lines) {
    const environ = await fs.readFile(`/proc/${line.trim().split(/\s+/)[0]}/environ`, 'latin1').catch(() => '')
    if (environ.includes(`${RUN_ENV}=${NETNS_PREFIX}${process.pid}-`)) out.push(line)
  }
  return out
}

export async function leftovers(): Promise<{namespaces: string[], mounts: string[], processes: string[]}> {
  const ns = await execa('ip', ['netns', 'list'])
  const mounts = await fs.readFile('/proc/self/mountinfo', 'utf8')
  const ps = await execa('ps', ['-eo', 'pid,args'])
  return {
    namespaces: ns.stdout.split('\n').filter((l) => l.startsWith(`${NETNS_PREFIX}${process.pid}-`)),
    mounts: mounts.split('\n').filter((l) => l.includes(`${NETNS_PREFIX}${process.pid}-`)),
    processes: await ours(ps.stdout.split('\n').filter((l) => /pxeroot-lab-|qemu-system|dhcpd -f|in\.tftpd|ganesha\.nfsd|rpcbind -f/.test(l) && !l.includes('ps -eo'))),
  }
}

/** A lab run's result, passed or not (a run whose nodes did not boot fails with the run's result attached). */
export async function labResult(ctx: Context, options: LabBootOptions): Promise<LabBootResult> {
  try {
    return await labBoot(ctx, options)
  } catch (error) {
    const result = (error as {result?: LabBootResult}).result
    if (result) return result
    throw error
  }
}
