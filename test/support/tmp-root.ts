import {promises as fs} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {afterEach, beforeEach} from 'vitest'

import {type Context} from '../../src/system/context.js'
import {makeRoot} from '../../src/system/paths.js'
import {execaRunner, type Runner} from '../../src/system/runner.js'
import {hostFiles} from '../../src/system/files.js'

export const FIXTURES = path.resolve(import.meta.dirname, '../../fixtures')

/** A fresh temporary --root, removed by the returned cleanup. */
export async function tmpRoot(prefix = 'pxeroot-test-'): Promise<{dir: string, cleanup: () => Promise<void>}> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix))
  return {dir, cleanup: () => fs.rm(dir, {recursive: true, force: true})}
}

/** A fresh temporary --root for each test of the calling file; `root.dir` is the current one. */
export function freshRootPerTest(): {dir: string} {
  const current = {dir: ''}
  let cleanup = async () => {}
  beforeEach(async () => {
    ({dir: current.dir, cleanup} = await tmpRoot())
  })
  afterEach(async () => {
    await cleanup()
  })
  return current
}

export function testContext(dir: string, runner: Runner = execaRunner()): Context & {lines: string[]} {
  const lines: string[] = []
  return {root: makeRoot(dir), runner, files: hostFiles, log: (l) => lines.push(l), signal: new AbortController().signal, json: false, lines}
}

/** Puts the seed's site file (and optionally an inventory) under a root. */
export async function seedSite(dir: string, {nodes = false, site}: {nodes?: boolean, site?: string} = {}): Promise<void> {
  await fs.mkdir(path.join(dir, 'etc/pxeroot'), {recursive: true})
  await fs.writeFile(path.join(dir, 'etc/pxeroot/pxeroot.yaml'), site ?? await fs.readFile(path.join(FIXTURES, 'seed-site.yaml'), 'utf8'))
  if (nodes) await fs.copyFile(path.join(FIXTURES, 'seed-nodes.yaml'), path.join(dir, 'etc/pxeroot/nodes.yaml'))
}

/** Every file and directory under dir with its bytes and mode: to prove a failed command changed
 * nothing (an empty directory left behind counts). */
export async function snapshotTree(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  async function walk(d: string): Promise<void> {
    for (const e of await fs.readdir(d, {withFileTypes: true})) {
      const p = path.join(d, e.name)
      if (e.isDirectory()) {
        out.set(`${path.relative(dir, p)}/`, `${((await fs.lstat(p)).mode & 0o7777).toString(8)}:dir`)
        await walk(p)
      } else {
        const st = await fs.lstat(p)
        out.set(path.relative(dir, p), `${(st.mode & 0o7777).toString(8)}:${e.isFile() ? (await fs.readFile(p)).toString('base64') : 'special'}`)
      }
    }
  }
  await walk(dir)
  return out
}
