import {UserError} from '../errors.js'

/** A host entry only the lab's dhcpd knows: it gives a node bound by address that address on the lab's VM. */
export interface LabHost {
  name: string
  mac: string
  ip: string
}

const INCLUDE = /^\s*include\s+"([^"]+)"\s*;\s*$/

/** The host paths a dhcpd config includes, in order. */
export function dhcpdIncludes(main: string): string[] {
  return main.split('\n').map((l) => INCLUDE.exec(l)?.[1]).filter((p): p is string => p !== undefined)
}

/**
 * The lab's dhcpd config: the rendered main file with every include inlined (they name host
 * paths, which under --root are somewhere else), then the lab's own host entries. Pure.
 */
export function labDhcpdConfig(main: string, included: ReadonlyMap<string, string>, hosts: readonly LabHost[]): string {
  const lines = main.split('\n').flatMap((line) => {
    const file = INCLUDE.exec(line)?.[1]
    if (file === undefined) return [line]
    const text = included.get(file)
    if (text === undefined) throw new UserError(`the dhcpd config includes ${file}, which does not exist; run "pxeroot apply"`)
    return [`# --- ${file} (inlined by pxeroot lab)`, ...text.replace(/\n$/, '').split('\n'), `# --- end of ${file}`]
  })
  if (hosts.length > 0) lines.push('', '# pxeroot lab: nodes bound by address get their address on the lab\'s VM.')
  for (const h of hosts) lines.push(`host pxeroot-lab-${h.name} { hardware ethernet ${h.mac}; fixed-address ${h.ip}; }`)
  return lines.join('\n').replace(/\n*$/, '\n')
}
