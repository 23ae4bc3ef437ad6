import {BmcError, type BmcTarget, type PowerAction, type PowerDriver, type PowerIo, type PowerState} from './types.js'

/** Each exchange with a BMC; they are slow embedded web servers. */
const REQUEST_MS = 15_000

/** Redfish's ResetType for each action (DMTF ComputerSystem.Reset). */
export const RESET_TYPE: Record<PowerAction, string> = {on: 'On', off: 'ForceOff', soft: 'GracefulShutdown'}

interface Json {
  [key: string]: unknown
}

/** https://ADDRESS[:PORT]: Redfish is served over HTTPS only (DMTF DSP0266). */
export function serviceRoot(target: Pick<BmcTarget, 'bmc'>): string {
  return `https://${target.bmc.address}`
}

/** The system's PowerState as on or off: a machine powering off is still on, one powering on not yet; pure. */
export function powerStateOf(system: Json): PowerState | undefined {
  switch (system.PowerState) {
    case 'On': case 'PoweringOff': return 'on'
    case 'Off': case 'PoweringOn': return 'off'
    default: return undefined
  }
}

/** The Reset action's target and the reset types it allows (absent: not said); pure. */
export function resetActionOf(system: Json): {target: string, allowed?: string[]} | undefined {
  const action = (system.Actions as Json | undefined)?.['#ComputerSystem.Reset'] as Json | undefined
  if (typeof action?.target !== 'string') return undefined
  const allowed = action['ResetType@Redfish.AllowableValues']
  return {target: action.target, ...(Array.isArray(allowed) ? {allowed: allowed.filter((v): v is string => typeof v === 'string')} : {})}
}

/** Why an exchange failed, in the kinds callers decide on; pure but for the error's text. */
function transportProblem(target: BmcTarget, error: Error & {code?: string}): BmcError {
  const {node, bmc} = target
  const cause = error.cause as {code?: string, message?: string} | undefined
  const code = error.code ?? cause?.code ?? ''
  const why = cause?.message ?? error.message
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|HOSTNAME|ALTNAME/.test(code) || /certificate/i.test(why)) {
    return new BmcError(node, 'unreachable', `${node}: the BMC at ${bmc.address} has a certificate pxeroot does not trust (${code || why})`,
      `give its CA or certificate: pxeroot nodes set ${node} --bmc-ca FILE (or --bmc-insecure, to skip the check)`)
  }
  return new BmcError(node, 'unreachable', `${node}: the BMC at ${bmc.address} does not answer Redfish over HTTPS (${code || why})`,
    `check its address (pxeroot nodes set ${node} --bmc ADDR), that it is powered and cabled, and that Redfish is enabled on it`)
}

async function call(target: BmcTarget, io: PowerIo, method: 'GET' | 'POST', path: string, body?: Json): Promise<Json> {
  const {node, bmc} = target
  const url = new URL(path, serviceRoot(target)).toString()
  let response
  try {
    response = await io.http.request(url, {
      method,
      headers: {
        Authorization: `Basic ${Buffer.from(`${bmc.user}:${target.password}`).toString('base64')}`,
        Accept: 'application/json',
        'OData-Version': '4.0',
        ...(body ? {'Content-Type': 'application/json'} : {}),
      },
      ...(body ? {body: JSON.stringify(body)} : {}),
      ...(target.ca ? {ca: target.ca} : {}),
      ...(bmc.insecure ? {insecure: true} : {}),
      timeoutMs: REQUEST_MS,
      signal: io.signal,
    })
  } catch (error) {
    if (io.signal?.aborted) throw io.signal.reason
    throw transportProblem(target, error as Error)
  }
  if (response.status === 401 || response.status === 403) {
    throw new BmcError(node, 'auth', `${node}: the BMC at ${bmc.address} refused user "${bmc.user}" or its password (HTTP ${response.status})`,
      `give the right one: pxeroot nodes set ${node} --bmc-password-file FILE (or fix the user with --bmc-user)`)
  }
  if (response.status < 200 || response.status >= 300) {
    throw new BmcError(node, 'refused', `${node}: the BMC at ${bmc.address} answered ${method} ${path} with HTTP ${response.status}${redfishMessage(response.text)}`)
  }
  if (response.text.trim() === '') return {}
  try {
    return JSON.parse(response.text) as Json
  } catch {
    throw new BmcError(node, 'refused', `${node}: the BMC at ${bmc.address} answered ${path} with something that is not JSON`)
  }
}

/** The message of a Redfish error body (error.@Message.ExtendedInfo), if it has one. */
function redfishMessage(text: string): string {
  try {
    const error = (JSON.parse(text) as Json).error as Json | undefined
    const info = (error?.['@Message.ExtendedInfo'] as Json[] | undefined)?.[0]
    const message = info?.Message ?? error?.message
    return typeof message === 'string' ? `: ${message}` : ''
  } catch {
    return ''
  }
}

/** The system to drive: bmc.system, or the service's only one. */
async function systemPath(target: BmcTarget, io: PowerIo): Promise<string> {
  if (target.bmc.system) return target.bmc.system
  const systems = await call(target, io, 'GET', '/redfish/v1/Systems')
  const members = (Array.isArray(systems.Members) ? systems.Members : []).map((m) => (m as Json)['@odata.id']).filter((m): m is string => typeof m === 'string')
  if (members.length === 1) return members[0]
  throw new BmcError(target.node, 'refused', `${target.node}: the BMC at ${target.bmc.address} has ${members.length === 0 ? 'no system' : `${members.length} systems (${members.join(', ')})`}`,
    members.length > 1 ? `name the node's: pxeroot nodes set ${target.node} --bmc-system ${members[0]}` : undefined)
}

/** Redfish (DMTF) over HTTPS: ComputerSystem.PowerState, and the ComputerSystem.Reset action. */
export const redfishDriver: PowerDriver = {
  name: 'redfish',
  async status(target, io) {
    const system = await call(target, io, 'GET', await systemPath(target, io))
    const state = powerStateOf(system)
    if (!state) throw new BmcError(target.node, 'refused', `${target.node}: the BMC at ${target.bmc.address} gives no PowerState this driver knows (${String(system.PowerState)})`)
    return state
  },
  async act(target, action, io) {
    const system = await call(target, io, 'GET', await systemPath(target, io))
    const reset = resetActionOf(system)
    if (!reset) throw new BmcError(target.node, 'refused', `${target.node}: the BMC at ${target.bmc.address} offers no ComputerSystem.Reset action`)
    const type = RESET_TYPE[action]
    if (reset.allowed && !reset.allowed.includes(type)) {
      throw new BmcError(target.node, 'refused', `${target.node}: the BMC at ${target.bmc.address} does not allow ResetType ${type} (it allows ${reset.allowed.join(', ')})`)
    }
    await call(target, io, 'POST', reset.target, {ResetType: type})
  },
}
