import {promises as fs} from 'node:fs'
import path from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {BOOT_REPORT_FILE, hasBootReport, installBootReport, parseBootReport, renderBootReportScript} from '../../src/images/boot-report.js'
import {readBootReport} from '../../src/status/booted.js'
import {hostFiles} from '../../src/system/files.js'
import {makeRoot} from '../../src/system/paths.js'
import {tmpRoot} from '../support/tmp-root.js'

describe('the boot report a node writes into its root', () => {
  let dir: string
  let cleanup: () => Promise<void>
  beforeEach(async () => {
    ({dir, cleanup} = await tmpRoot())
  })
  afterEach(async () => cleanup())

  it('parses the revision, the boot id and the time; anything without a boot id is no report', () => {
    expect(parseBootReport('revision=lab@2\nboot_id=5c1f2f0e-4b0f-4d0c-9a57-6a1ad0f0b1c2\nbooted_at=2025-01-01T03:00:00Z\n'))
      .toEqual({revision: 'lab@2', bootId: '5c1f2f0e-4b0f-4d0c-9a57-6a1ad0f0b1c2', at: '2025-01-01T03:00:00Z'})
    expect(parseBootReport('revision=\nboot_id=5c1f2f0e-4b0f-4d0c-9a57-6a1ad0f0b1c2\n')).toEqual({bootId: '5c1f2f0e-4b0f-4d0c-9a57-6a1ad0f0b1c2'})
    expect(parseBootReport('revision=lab@2\n')).toBeUndefined()
    expect(parseBootReport('boot_id=$(reboot)\n')).toBeUndefined()
  })

  it('the script takes the revision from the kernel command line and writes the report by rename', () => {
    const script = renderBootReportScript()
    expect(script).toContain('pxeroot.revision=*) revision="${word#pxeroot.revision=}"')
    expect(script).toContain(`mv -f "$tmp" ${BOOT_REPORT_FILE}`)
  })

  it('installs the unit once: a second install changes nothing, not even a time', async () => {
    const rootfs = path.join(dir, 'rootfs')
    await fs.mkdir(path.join(rootfs, 'etc/systemd/system'), {recursive: true})
    expect(await hasBootReport(rootfs)).toBe(false)
    await installBootReport(hostFiles, rootfs)
    expect(await hasBootReport(rootfs)).toBe(true)
    const unit = path.join(rootfs, 'etc/systemd/system/pxeroot-booted.service')
    expect(await fs.readFile(unit, 'utf8')).toMatch(/After=multi-user\.target[\s\S]*ExecStart=\/usr\/lib\/pxeroot\/boot-report[\s\S]*WantedBy=multi-user\.target/)
    expect((await fs.stat(path.join(rootfs, 'usr/lib/pxeroot/boot-report'))).mode & 0o777).toBe(0o755)
    const before = await Promise.all([unit, path.join(rootfs, 'usr/lib/pxeroot/boot-report')].map(async (f) => (await fs.stat(f)).mtimeMs))
    await new Promise((r) => setTimeout(r, 20))
    await installBootReport(hostFiles, rootfs)
    expect(await Promise.all([unit, path.join(rootfs, 'usr/lib/pxeroot/boot-report')].map(async (f) => (await fs.stat(f)).mtimeMs))).toEqual(before)
  })

  it('is read from the node root on disk, and never through a link the node planted', async () => {
    // The storage seam as the local backend opens a root: its directory under paths.nodes.
    const storage = {openRoot: async (name: string) => ({dir: makeRoot(dir).resolve(`/srv/nodes/${name}`), close: async () => {}})}
    const read = () => readBootReport(storage, 'node01')
    expect(await read()).toBeUndefined()
    const state = path.join(dir, 'srv/nodes/node01/var/lib/pxeroot')
    await fs.mkdir(state, {recursive: true})
    await fs.writeFile(path.join(state, 'booted'), 'revision=lab@1\nboot_id=5c1f2f0e4b0f4d0c9a576a1ad0f0b1c2\n')
    expect(await read()).toEqual({revision: 'lab@1', bootId: '5c1f2f0e4b0f4d0c9a576a1ad0f0b1c2'})
    // The node is root in its tree: a report that is a link, or lies under one, is no report.
    await fs.writeFile(path.join(dir, 'secret'), 'revision=x@1\nboot_id=5c1f2f0e4b0f4d0c9a576a1ad0f0b1c2\n')
    await fs.rm(path.join(state, 'booted'))
    await fs.symlink(path.join(dir, 'secret'), path.join(state, 'booted'))
    expect(await read()).toBeUndefined()
    await fs.rm(state, {recursive: true})
    await fs.symlink(dir, state)
    await fs.rename(path.join(dir, 'secret'), path.join(dir, 'booted'))
    expect(await read()).toBeUndefined()
  })
})
