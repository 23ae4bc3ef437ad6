/**
 * What the lab's VM tests share: nodes cloned from the golden revision, running `lab boot`
 * in-process for its result, and proving that a run left nothing behind (namespaces, mounts,
 * processes of this test process's runs only: other engineers' VMs and servers may share the
 * machine).
 */
import {execa} from 'execa'
import {promises as fs} from 'node:fs'

import {type Context} from '../../src/system/context.js'
import {type LabBootOptions, type LabBootResult} from '../../src/lab/run.js'
import {labBoot} from '../../src/services/lab-boot.js'
import {RUN_ENV} from '../../src/system/daemon.js'
import {NETNS_PREFIX} from '../../src/system/netns.js'
import NodesClone from '../../src/commands/nodes/clone.js'
import NodesSet from '../../src/commands/nodes/set.js'
import {STATE} from '../../src/system/paths.js'
import {type Golden, goldenImage, runCommand} from './golden.js'

/**
 * A golden root (goldenImage) with node01..node<count> cloned from the golden revision, node01
 * bound by `mac01` and the others by address; `site` is added to the site file first.
 */
export async function labNodes(count: number, mac01: string, site = ''): Promise<Golden> {
  const golden = await goldenImage()
  if (site) await fs.appendFile(golden.root.resolve(STATE.siteFile), site)
  const root = ['--root', golden.rootPrefix]
  const clone = await runCommand(NodesClone, [String(count), ...root])
  if (clone.code !== 0) throw clone.error
  const bind = await runCommand(NodesSet, ['node01', '--mac', mac01, ...root])
  if (bind.code !== 0) throw bind.error
  return golden
}

/** The machine-id each node's clone was given: what its console must show. */
export async function machineIdsOf(golden: Golden, names: string[]): Promise<string[]> {
  return Promise.all(names.map(async (n) => (await fs.readFile(golden.root.resolve(`${golden.site.paths.nodes}/${n}/etc/machine-id`), 'utf8')).trim()))
}

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
