import {bmcTargets, noPowerControl} from '../backends/power/targets.js'
import {type Firmware} from '../config/site.js'
import {loadSite} from '../config/site-file.js'
import {PreconditionError, UserError} from '../errors.js'
import {type Accel, pickAccel} from '../lab/qemu.js'
import {LabSession, SESSION_PROGRAMS, type SessionNode} from '../lab/session.js'
import {requireLabTools, requireOvmf} from '../lab/tools.js'
import {LAB_SESSION_ENV} from '../status/lab-session.js'
import {type Context} from '../system/context.js'
import {reapStaleNamespaces} from '../system/netns.js'
import {labServers, labVms} from './lab-boot.js'

export interface LabSessionRequest {
  nodes: string[]
  firmware?: Firmware
  accel?: Accel
  memoryMiB?: number
  /** The session's longest life, seconds (default 4 hours). */
  maxSeconds?: number
  keepLogs?: string
}

/**
 * Starts a lab session (lab/session.ts) for the named nodes: the site's servers in a private
 * namespace and, for each node, the BMC its inventory entry describes, emulated by ipmi_sim at
 * that address with that user and the site's password for it. Refused before anything starts
 * when a node has no IPMI BMC or no password.
 */
export async function startLabSession(ctx: Context, request: LabSessionRequest): Promise<LabSession> {
  if (process.getuid?.() !== 0) throw new PreconditionError('pxeroot lab session needs root (network namespaces, tap devices, mounts)', 'run it with sudo')
  if (request.nodes.length === 0) throw new UserError('name the nodes, e.g. "pxeroot lab session node01 node02"')
  const firmware = request.firmware ?? 'bios'
  const site = await loadSite(ctx.root)
  if (!site.boot.firmware.includes(firmware)) throw new UserError(`--firmware ${firmware}: the site serves no ${firmware === 'uefi' ? 'UEFI' : 'BIOS'} machines (boot.firmware is [${site.boot.firmware.join(', ')}])`)
  const {inventory, all, vms} = await labVms(ctx, site, request.nodes, firmware)
  const entries = vms.map((vm) => inventory.nodes.find((n) => n.name === vm.node.name)!)
  const {targets, problems} = await bmcTargets(ctx.root, entries)
  if (problems.length > 0) throw noPowerControl(problems, 'started')
  const notIpmi = targets.filter((t) => t.bmc.driver !== 'ipmi')
  if (notIpmi.length > 0) throw new UserError(`the lab emulates IPMI BMCs only (OpenIPMI's ipmi_sim): ${notIpmi.map((t) => `${t.node} has a ${t.bmc.driver} BMC`).join(', ')}`, 'give lab nodes --bmc-driver ipmi')
  const servers = await labServers(ctx, site, vms, {inventory, nodes: all}, {})
  const tools = await requireLabTools({...servers.programs, ...SESSION_PROGRAMS})
  if (firmware === 'uefi') await requireOvmf()
  const accel = await pickAccel(request.accel ?? 'auto')
  await reapStaleNamespaces(ctx.runner)
  const nodes: SessionNode[] = vms.map((vm, i) => ({vm, bmc: {address: targets[i].bmc.address, user: targets[i].bmc.user, password: targets[i].password, ...(targets[i].bmc.cipher === undefined ? {} : {cipher: targets[i].bmc.cipher})}}))
  return LabSession.start(ctx, site, tools, nodes, servers, {accel, maxSeconds: request.maxSeconds ?? 4 * 3600, ...(request.memoryMiB ? {memoryMiB: request.memoryMiB} : {}), ...(request.keepLogs ? {keepLogs: request.keepLogs} : {})})
}

/** argv that runs a command in the session's network namespace, with PXEROOT_LAB naming the session. */
export function inSession(session: LabSession, command: readonly string[]): [string, string[]] {
  return ['nsenter', [`--net=/run/netns/${session.info!.namespace}`, '--', 'env', `${LAB_SESSION_ENV}=${session.runDir}/session.json`, ...command]]
}

/**
 * `lab session NODE... [-- COMMAND...]`: starts the session, runs COMMAND (default: a shell) in
 * the lab's network namespace with PXEROOT_LAB set, so the pxeroot commands it runs reach the
 * lab's BMCs and read the lab's servers; when it ends, everything is stopped. Returns its exit code.
 */
export async function runLabSession(ctx: Context, request: LabSessionRequest, command: readonly string[]): Promise<number> {
  const session = await startLabSession(ctx, request)
  let exitCode = 1
  try {
    const argv = command.length > 0 ? command : [process.env.SHELL || '/bin/sh']
    ctx.log(`lab: running ${argv.join(' ')} in ${session.info!.namespace} (${LAB_SESSION_ENV}=${session.runDir}/session.json)`)
    // Ctrl-C reaches COMMAND itself (it shares the terminal): a shell stays, a rollout stops and
    // records where it was; the session ends when COMMAND does. A SIGTERM to pxeroot ends COMMAND.
    const stop = new AbortController()
    const onAbort = () => {
      if (/SIGTERM/.test(String((ctx.signal.reason as Error | undefined)?.message))) stop.abort(ctx.signal.reason)
    }
    ctx.signal.addEventListener('abort', onAbort)
    try {
      const r = await ctx.runner.run(...inSession(session, argv), {inherit: true, reject: false, timeout: (request.maxSeconds ?? 4 * 3600) * 1000, cancelSignal: stop.signal})
      exitCode = r.exitCode
    } catch (error) {
      throw stop.signal.aborted ? ctx.signal.reason : error
    } finally {
      ctx.signal.removeEventListener('abort', onAbort)
    }
  } finally {
    await session.stop(exitCode === 0)
  }
  return exitCode
}
