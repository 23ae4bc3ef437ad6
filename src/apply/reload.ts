import {type ReloadCause, type ServiceBackend} from '../backends/types.js'
import {type Runner} from '../system/runner.js'

export interface ReloadResult {
  service: string
  action: string
  ok: boolean
  message?: string
}

export interface Touched {
  backend: ServiceBackend
  cause: ReloadCause
}

/** Each daemon whose files changed, told the least disruptive way its backend knows; every one is tried. */
export async function reloadServices(runner: Runner, services: readonly Touched[], signal?: AbortSignal): Promise<ReloadResult[]> {
  const results: ReloadResult[] = []
  for (const {backend, cause} of [...services].sort((a, b) => a.backend.kind.localeCompare(b.backend.kind))) {
    for (const {command, args, nothingToDo} of backend.reload(cause)) {
      const action = [command, ...args].join(' ')
      try {
        await runner.run(command, args, {timeout: 60_000, cancelSignal: signal})
        results.push({service: backend.kind, action, ok: true})
      } catch (error) {
        const message = (error as Error).message
        if (nothingToDo?.test(message)) results.push({service: backend.kind, action, ok: true, message: 'nothing to do'})
        else results.push({service: backend.kind, action, ok: false, message})
      }
    }
  }
  return results
}
