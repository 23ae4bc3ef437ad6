import {ExternalCommandError, PreconditionError} from '../../errors.js'
import {BmcError, type BmcTarget, type PowerAction, type PowerDriver, type PowerIo, type PowerState} from './types.js'

/** Seconds ipmitool waits for each answer, and how often it asks again: a BMC that never answers costs about (1 + retries) x timeout. */
const TIMEOUT_S = 2
const RETRIES = 2
/** The whole call, whatever ipmitool does. */
const CALL_MS = 30_000

const CHASSIS: Record<PowerAction | 'status', string> = {status: 'status', on: 'on', off: 'off', soft: 'soft'}

/**
 * ipmitool's argv for one chassis power call over IPMI v2 (lanplus). The password is never here:
 * -E makes ipmitool read it from IPMI_PASSWORD in its own environment, which only root and the
 * process itself can read (/proc/PID/environ is 0400), where any local user can read a command
 * line. -v adds the lines that tell a refused password from a BMC that does not answer. Pure.
 */
export function ipmitoolArgs(target: Pick<BmcTarget, 'bmc'>, command: PowerAction | 'status'): string[] {
  const {bmc} = target
  return [
    '-I', 'lanplus', '-H', bmc.address, '-U', bmc.user, '-E',
    ...(bmc.cipher === undefined ? [] : ['-C', String(bmc.cipher)]),
    '-N', String(TIMEOUT_S), '-R', String(RETRIES), '-v',
    'chassis', 'power', CHASSIS[command],
  ]
}

/** The environment that carries the password to ipmitool (and nothing else of ours). */
export function ipmitoolEnv(target: Pick<BmcTarget, 'password'>): Record<string, string> {
  return {IPMI_PASSWORD: target.password}
}

/** "Chassis Power is on" → on; pure. */
export function parsePowerStatus(stdout: string): PowerState | undefined {
  const m = /Chassis Power is (on|off)/i.exec(stdout)
  return m ? (m[1].toLowerCase() as PowerState) : undefined
}

/** The lines of ipmitool's output worth showing: not -v's chatter, not the cipher-suite probe that emulators do not answer. */
function meaningful(output: string): string[] {
  return output.split('\n').map((l) => l.trim()).filter((l) => l && !/^(Loading IANA PEN Registry|Running Get VSO Capabilities|Invalid completion code received: Invalid command|Discovered IPMB address|Unable to Get Channel Cipher Suites)/.test(l))
}

/** What a failed ipmitool run means, from its own words; pure. */
export function ipmiProblem(node: string, address: string, user: string, output: string): BmcError {
  const lines = meaningful(output)
  const said = lines.join('; ')
  if (/RAKP 2 HMAC is invalid|unauthorized name|RAKP 2 message indicates an error|Invalid user name|insufficient privilege|password (?:is )?(?:invalid|incorrect)/i.test(output)) {
    return new BmcError(node, 'auth', `${node}: the BMC at ${address} refused user "${user}" or its password`,
      `give the right one: pxeroot nodes set ${node} --bmc-password-file FILE (or fix the user with --bmc-user)`)
  }
  if (/Get Auth Capabilities error|Could not open socket|No response from remote controller|Address lookup for .* failed|Unable to establish (?:LAN|IPMI v2)? ?.*session/i.test(output) && !/RAKP/.test(output)) {
    return new BmcError(node, 'unreachable', `${node}: the BMC at ${address} does not answer IPMI over LAN (${said || 'no answer'})`,
      `check its address (pxeroot nodes set ${node} --bmc ADDR), that it is powered and cabled, and that IPMI over LAN is enabled on it`)
  }
  return new BmcError(node, 'refused', `${node}: the BMC at ${address} failed: ${said || 'ipmitool gave no reason'}`)
}

async function ipmitool(target: BmcTarget, command: PowerAction | 'status', io: PowerIo): Promise<string> {
  try {
    const r = await io.runner.run('ipmitool', ipmitoolArgs(target, command), {env: ipmitoolEnv(target), reject: false, timeout: CALL_MS, cancelSignal: io.signal})
    if (r.exitCode !== 0) throw ipmiProblem(target.node, target.bmc.address, target.bmc.user, `${r.stdout}\n${r.stderr}`)
    return r.stdout
  } catch (error) {
    if (error instanceof PreconditionError) throw new PreconditionError('ipmitool is not installed: pxeroot drives IPMI BMCs with it', 'apt-get install ipmitool')
    if (error instanceof ExternalCommandError && io.signal?.aborted !== true && /timed out/.test(error.message)) {
      throw new BmcError(target.node, 'unreachable', `${target.node}: the BMC at ${target.bmc.address} did not answer within ${CALL_MS / 1000} s`)
    }
    throw error
  }
}

/** IPMI over LAN (v2, lanplus) through ipmitool, the tool every site has. */
export const ipmiDriver: PowerDriver = {
  name: 'ipmi',
  needs: {program: 'ipmitool', package: 'ipmitool'},
  async status(target, io) {
    const out = await ipmitool(target, 'status', io)
    const state = parsePowerStatus(out)
    if (!state) throw new BmcError(target.node, 'refused', `${target.node}: the BMC at ${target.bmc.address} did not say whether the power is on (${meaningful(out).join('; ') || 'no output'})`)
    return state
  },
  async act(target, action, io) {
    await ipmitool(target, action, io)
  },
}
