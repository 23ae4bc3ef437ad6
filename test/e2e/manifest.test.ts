import {spawnSync} from 'node:child_process'
import {promises as fs} from 'node:fs'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

const ROOT = path.resolve(import.meta.dirname, '../..')

describe('oclif.manifest.json', () => {
  it('lists exactly the commands in src/commands (regenerate with "npm run build" and commit it)', async () => {
    const manifest = JSON.parse(await fs.readFile(path.join(ROOT, 'oclif.manifest.json'), 'utf8')) as {commands: Record<string, unknown>}
    const files = spawnSync('find', ['src/commands', '-name', '*.ts'], {cwd: ROOT, encoding: 'utf8'}).stdout.trim().split('\n')
    const ids = files.map((f) => f.replace(/^src\/commands\//, '').replace(/(\/index)?\.ts$/, '').replaceAll('/', ':')).sort()
    expect(Object.keys(manifest.commands).sort()).toEqual(ids)
  })

  it('is the committed one: the build did not have to change it', () => {
    const inGit = spawnSync('git', ['rev-parse', '--is-inside-work-tree'], {cwd: ROOT, encoding: 'utf8'}).stdout.trim() === 'true'
    if (!inGit) return
    const diff = spawnSync('git', ['diff', '--stat', 'HEAD', '--', 'oclif.manifest.json'], {cwd: ROOT, encoding: 'utf8'})
    expect(diff.stdout, 'oclif.manifest.json differs from the committed one: commit the regenerated file').toBe('')
  })
})
