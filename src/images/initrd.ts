import {type CpioMember} from '../system/initrd.js'

/** What a boot=rbd initrd must hold, from its members and modules.builtin; pure. */
export function rbdBootReadiness(members: readonly CpioMember[]): {script: boolean, missingModules: string[]} {
  const names = new Set(members.map((m) => m.name.replace(/^\.?\//, '')))
  const builtin = members.filter((m) => /(^|\/)lib\/modules\/[^/]+\/modules\.builtin$/.test(m.name)).map((m) => m.data?.toString('utf8') ?? '').join('\n')
  const has = (module: string) => [...names].some((n) => new RegExp(`/${module}\\.ko(\\.(xz|zst|gz))?$`).test(n)) || new RegExp(`/${module}\\.ko$`, 'm').test(builtin)
  return {script: names.has('scripts/rbd'), missingModules: ['rbd', 'libceph'].filter((m) => !has(m))}
}
