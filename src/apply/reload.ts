import {type NfsBackend} from '../config/site.js'
import {type Runner} from '../system/runner.js'
import {type Service} from './owned.js'

export interface ReloadResult {
  service: Service
  action: string
  ok: boolean
  message?: string
}

/**
 * The least disruptive way to make each service see its new files. Exports are re-read with
 * `exportfs -ra` (a restart of nfs-kernel-server would start a grace period that stalls every
 * node mounted from it). dhcpd has no reload, but its config was checked before it was written,
 * so the restart cannot leave DHCP down; try-restart leaves a stopped service stopped.
 */
export function reloadCommands(service: Service, nfs: NfsBackend): {command: string, args: string[]}[] {
  switch (service) {
    case 'dhcp': return [{command: 'systemctl', args: ['try-restart', 'isc-dhcp-server.service']}]
    case 'nfs': return nfs === 'kernel'
      ? [{command: 'exportfs', args: ['-ra']}]
      : [{command: 'systemctl', args: ['try-reload-or-restart', 'nfs-ganesha.service']}]
    case 'tftp': return [{command: 'systemctl', args: ['try-restart', 'tftpd-hpa.service']}]
  }
}

export async function reloadServices(runner: Runner, services: ReadonlySet<Service>, nfs: NfsBackend, signal?: AbortSignal): Promise<ReloadResult[]> {
  const results: ReloadResult[] = []
  for (const service of [...services].sort()) {
    for (const {command, args} of reloadCommands(service, nfs)) {
      const action = [command, ...args].join(' ')
      try {
        await runner.run(command, args, {timeout: 60_000, cancelSignal: signal})
        results.push({service, action, ok: true})
      } catch (error) {
        results.push({service, action, ok: false, message: (error as Error).message})
      }
    }
  }
  return results
}
