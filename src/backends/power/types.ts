import {PxerootError, EXIT} from '../../errors.js'
import {type InventoryBmc} from '../../inventory/inventory.js'
import {type Runner} from '../../system/runner.js'
import {type HttpClient} from './http.js'

/** What a BMC says of its machine's power. */
export type PowerState = 'on' | 'off'

/**
 * What pxeroot asks of a BMC: power on, power off at once (`off`, a pulled plug), or ask the OS
 * to shut down (`soft`: an ACPI power-button press, IPMI's "soft", Redfish's GracefulShutdown).
 */
export type PowerAction = 'on' | 'off' | 'soft'

/** One node's BMC as a driver gets it: the inventory's entry and the password (never logged). */
export interface BmcTarget {
  node: string
  bmc: InventoryBmc
  /** The BMC's CA or certificate (PEM text), read from bmc.ca. */
  ca?: string
  password: string
}

/** How a driver reaches its BMC: processes (ipmitool), HTTPS (Redfish), and the run's stop. */
export interface PowerIo {
  runner: Runner
  http: HttpClient
  signal?: AbortSignal
}

/** One seam per kind of BMC, as DHCP and NFS servers are: a module each. */
export interface PowerDriver {
  readonly name: InventoryBmc['driver']
  /** The program or library it needs, for refusals: "apt-get install ipmitool". */
  readonly needs?: {program: string, package: string}
  status(target: BmcTarget, io: PowerIo): Promise<PowerState>
  act(target: BmcTarget, action: PowerAction, io: PowerIo): Promise<void>
}

/**
 * Why a BMC could not be used, in kinds a caller decides on: `auth` (it answered and refused the
 * user or password), `unreachable` (no answer), `refused` (it answered and would not do it).
 */
export type BmcProblem = 'auth' | 'unreachable' | 'refused'

export class BmcError extends PxerootError {
  override readonly exitCode: number

  constructor(readonly node: string, readonly problem: BmcProblem, message: string, suggestion?: string) {
    super(message, suggestion)
    // A password the BMC refused is input to fix; a BMC that does not answer is a precondition.
    this.exitCode = problem === 'auth' ? EXIT.usage : problem === 'unreachable' ? EXIT.precondition : EXIT.failed
  }
}

/**
 * The BMCs of a request that could not be used, each in one line (nothing was touched): exits as
 * the worst of them, a refused password (fix the input) before a BMC that does not answer.
 */
export class BmcRefusals extends PxerootError {
  override readonly exitCode: number

  constructor(readonly errors: readonly BmcError[], what: string) {
    super(`${errors.length} BMC(s) cannot be used, so ${what}:\n  ${errors.map((e) => `${e.message}${e.suggestion ? ` (${e.suggestion})` : ''}`).join('\n  ')}`)
    this.exitCode = errors.some((e) => e.problem === 'auth') ? EXIT.usage : errors.some((e) => e.problem === 'unreachable') ? EXIT.precondition : EXIT.failed
  }
}
