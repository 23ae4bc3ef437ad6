import {type ServiceBackend} from '../backends/types.js'
import {type Runner} from '../system/runner.js'

export interface ReloadResult {
  service: string
  action: string
  ok: boolean
  message?: string
}

/** Each daemon whose files changed, told the least disruptive way its backend knows; every one is tried. */
export async function reloadServices(runner: Runner, services: readonly ServiceBackend[], signal?: AbortSignal): Promise<ReloadResult[]> {
  const results: ReloadResult[] = []
  for (const backend of [...services].sort((a, b) => a.kind.localeCompare(b.kind))) {
    for (const {command, args} of backend.reload()) {
      const action = [command, ...args].join(' ')
      try {
        await runner.run(command, args, {timeout: 60_000, cancelSignal: signal})
        results.push({service: backend.kind, action, ok: true})
      } catch (error) {
        results.push({service: backend.kind, action, ok: false, message: (error as Error).message})
      }
    }
  }
  return results
}
