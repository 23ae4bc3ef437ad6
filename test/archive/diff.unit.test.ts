import {promises as fs} from 'node:fs'
import path from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import ImageDiff from '../../src/commands/image/diff.js'
import {compareDebianVersions} from '../../src/images/debian-version.js'
import {diffManifests, formatDiff} from '../../src/images/diff.js'
import {manifestView} from '../../src/images/manifest-view.js'
import {seedSite, tmpRoot} from '../support/tmp-root.js'
import {runCommand} from '../support/run-command.js'
import {manifestFor} from './synthetic.js'

const two = manifestView({...manifestFor('lab', 2, {bash: '5.2.15-2+b2', curl: '7.88.1-10+deb12u5', vim: '2:9.0.1378-2', libfoo: '1.0-1'}), kernel: '6.1.0-30-amd64'})
const three = manifestView({...manifestFor('lab', 3, {bash: '5.2.15-2+b2', curl: '7.88.1-10+deb12u8', vim: '2:9.0.1378-2', htop: '3.2.2-2', libfoo: '1.0~rc1-1'}), kernel: '6.1.0-31-amd64'})

describe('image diff (pure)', () => {
  it('lists packages added, removed, upgraded, downgraded and the kernel change', () => {
    const d = diffManifests(two, three)
    expect(d.added).toEqual([{name: 'htop', version: '3.2.2-2'}])
    expect(d.removed).toEqual([])
    expect(d.upgraded).toEqual([{name: 'curl', from: '7.88.1-10+deb12u5', to: '7.88.1-10+deb12u8'}])
    expect(d.downgraded).toEqual([{name: 'libfoo', from: '1.0-1', to: '1.0~rc1-1'}])
    expect(d.kernel).toEqual({from: '6.1.0-30-amd64', to: '6.1.0-31-amd64'})
    expect(d.identical).toBe(false)
    expect(diffManifests(three, two).removed).toEqual([{name: 'htop', version: '3.2.2-2'}])
  })

  it('says so when two revisions hold the same packages and kernel', () => {
    const d = diffManifests(two, two)
    expect(d.identical).toBe(true)
    expect(formatDiff(d)).toBe('lab@2 → lab@2: no package or kernel changes\n')
  })

  it('formats one line per change', () => {
    const text = formatDiff(diffManifests(two, three))
    expect(text).toContain('kernel: 6.1.0-30-amd64 → 6.1.0-31-amd64')
    expect(text).toContain('+ htop 3.2.2-2')
    expect(text).toContain('↑ curl 7.88.1-10+deb12u5 → 7.88.1-10+deb12u8')
  })

  it('orders versions as dpkg does', () => {
    const older: Array<[string, string]> = [
      ['1.0~rc1', '1.0'], ['1.0', '1.0-1'], ['1.0-1', '1.0-2'], ['1:0.1', '2:0.0'], ['2.9', '2.10'], ['1.0', '1.0a'],
      ['7.88.1-10+deb12u5', '7.88.1-10+deb12u12'], ['1.0a', '1.0+'], ['3.2.2-2', '1:0.1-1'],
    ]
    for (const [a, b] of older) {
      expect(compareDebianVersions(a, b), `${a} < ${b}`).toBeLessThan(0)
      expect(compareDebianVersions(b, a), `${b} > ${a}`).toBeGreaterThan(0)
    }
    expect(compareDebianVersions('0:1.0-1', '1.0-1')).toBe(0)
    expect(compareDebianVersions('1.00', '1.0')).toBe(0)
  })

  it('reads both manifest shapes, and tells multiarch packages apart', () => {
    const list = manifestView({image: 'a', revision: 1, kernel: 'k', packages: [{name: 'libc6', version: '1', arch: 'amd64'}, {name: 'libc6', version: '1', arch: 'i386'}]})
    expect(list.packages).toEqual({'libc6:amd64': '1', 'libc6:i386': '1'})
    expect(manifestView({image: 'a', revision: 1, kernel: 'k', packages: {bash: '5'}}).packages).toEqual({bash: '5'})
    expect(() => manifestView({image: 'a', revision: 1, packages: {}})).toThrow(/kernel: is required/)
    expect(() => manifestView({format: 2, image: 'a', revision: 1, kernel: 'k', packages: {}})).toThrow(/format: 2 is newer/)
  })
})

describe('pxeroot image diff', () => {
  let dir: string
  let cleanup: () => Promise<void>
  beforeAll(async () => {
    ;({dir, cleanup} = await tmpRoot('pxeroot-diff-'))
    await seedSite(dir)
    for (const [n, packages] of [[2, {bash: '5.1-1', vim: '2:9.0-1'}], [3, {bash: '5.2-1', htop: '3.2-1'}]] as const) {
      const rev = path.join(dir, 'srv/pxeroot/images/lab', String(n))
      await fs.mkdir(path.join(rev, 'rootfs'), {recursive: true})
      await fs.writeFile(path.join(rev, 'manifest.json'), JSON.stringify(manifestFor('lab', n, packages)))
    }
    await fs.symlink('3', path.join(dir, 'srv/pxeroot/images/lab/current'))
  })
  afterAll(async () => cleanup?.())

  it('compares two revisions, NAME meaning the current one', async () => {
    const out = await runCommand(ImageDiff, ['lab@2', 'lab', '--root', dir, '--json'])
    expect(out.result).toMatchObject({
      from: 'lab@2', to: 'lab@3',
      added: [{name: 'htop', version: '3.2-1'}],
      removed: [{name: 'vim', version: '2:9.0-1'}],
      upgraded: [{name: 'bash', from: '5.1-1', to: '5.2-1'}],
    })
  })

  it('refuses a revision that does not exist', async () => {
    const out = await runCommand(ImageDiff, ['lab@2', 'lab@7', '--root', dir])
    expect(out.code).toBe(2)
    expect(out.error?.message).toMatch(/second revision: there is no revision lab@7/)
  })
})
