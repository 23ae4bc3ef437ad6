/**
 * Debian's AppArmor profile for kea-dhcp4 (installed with kea-dhcp4-server) allows reads of
 * /etc/kea/** and writes of a few fixed paths only; the pid file is named after the config's
 * base name. Every path pxeroot gives Kea must be one the profile allows.
 */
import {promises as fs} from 'node:fs'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {KEA_PATHS} from '../../src/backends/dhcp/kea.js'
import {KEA_STATE} from '../../src/render/dhcp/kea.js'

const PROFILE = '/etc/apparmor.d/usr.sbin.kea-dhcp4'

/** An AppArmor path glob as a regex: ** any path, * one component, {a,b} either, [..] as is. */
function globRegex(glob: string): RegExp {
  let re = ''
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]
    if (glob.startsWith('**', i)) {
      re += '.*'
      i++
    } else if (c === '*') re += '[^/]*'
    else if (c === '{') re += '('
    else if (c === '}') re += ')'
    else if (c === ',') re += '|'
    else if (c === '[') {
      const end = glob.indexOf(']', i)
      re += glob.slice(i, end + 1)
      i = end
    } else re += c.replace(/[.+?^$()|\\]/g, '\\$&')
  }
  return new RegExp(`^${re}$`)
}

async function allowed(file: string, access: 'r' | 'w'): Promise<boolean> {
  const rules = (await fs.readFile(PROFILE, 'utf8')).split('\n')
    .map((l) => /^\s*(?:owner\s+)?(\/\S+)\s+([a-zA-Z]+),/.exec(l)).filter((m): m is RegExpExecArray => m !== null)
  return rules.some(([, glob, perms]) => perms.includes(access) && globRegex(glob).test(file))
}

const pidFileFor = (config: string) => `/run/kea/${path.basename(config, '.conf')}.kea-dhcp4.pid`

describe('Kea\'s paths under Debian\'s AppArmor profile', () => {
  it('pxeroot\'s config is readable and every file Kea writes for it is allowed', async () => {
    expect(await allowed(KEA_PATHS.config, 'r')).toBe(true)
    expect(await allowed(pidFileFor(KEA_PATHS.config), 'w')).toBe(true)
    expect(await allowed(KEA_STATE.leases, 'w')).toBe(true)
    expect(await allowed(KEA_STATE.socket, 'w')).toBe(true)
    expect(await allowed(KEA_STATE.log, 'w')).toBe(true)
  })

  it('a config named pxeroot-dhcp4.conf would make Kea write a pid file the profile denies', async () => {
    expect(await allowed('/etc/kea/pxeroot-dhcp4.conf', 'r')).toBe(true)
    expect(await allowed(pidFileFor('/etc/kea/pxeroot-dhcp4.conf'), 'w')).toBe(false)
  })
})
