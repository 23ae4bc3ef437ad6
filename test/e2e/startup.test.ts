/**
 * What the CLI loads to start (issue 20: every cron run and `status --watch` pays it). `version`
 * and `--help` need oclif and the command's own file, not the site model, the YAML parser, zod,
 * execa or listr2: those load with the commands that use them. A static import of one of them
 * from the base command (as the cluster-state store once was) doubled `version`'s CPU time
 * (0.16 s to 0.33 s) without a test noticing; this is that test. Runs the built CLI as a user
 * does (NODE_ENV=test would make oclif load the TypeScript sources instead).
 */
import {execa} from 'execa'
import {promises as fs} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {expect, it} from 'vitest'

const PROJECT = path.resolve(import.meta.dirname, '../..')
const HEAVY = /\/node_modules\/(execa|zod|yaml|listr2|diff|ora)\/|\/dist\/(config\/(site|site-file|site-state|site-lock|cluster-store|issues)|system\/cluster-state)\.js$/

async function loaded(args: string[]): Promise<string[]> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pxeroot-startup-'))
  try {
    const file = path.join(dir, 'loaded')
    const r = await execa(process.execPath, ['--import', path.join(PROJECT, 'test/support/record-loads.mjs'), path.join(PROJECT, 'bin/run.js'), ...args],
      {env: {PXEROOT_LOADED: file, NODE_ENV: 'production'}, reject: false, timeout: 30_000})
    expect(r.exitCode, r.stderr).toBe(0)
    return (await fs.readFile(file, 'utf8')).split('\n').filter(Boolean)
  } finally {
    await fs.rm(dir, {recursive: true, force: true})
  }
}

it('version and --help load neither the site model nor execa, zod, yaml or listr2', async () => {
  for (const args of [['version'], ['nodes', 'list', '--help']]) {
    const modules = await loaded(args)
    // The recorder sees what the CLI loads (so an empty list cannot pass).
    expect(modules.some((m) => m.includes('/node_modules/@oclif/core/')), args.join(' ')).toBe(true)
    expect(modules.filter((m) => HEAVY.test(m)), args.join(' ')).toEqual([])
  }
}, 60_000)

/** What `nodes list` of a local site written plainly has no use for: execa (it starts no process),
 * the yaml library (plain YAML is read without it: config/plain-yaml.ts), and the rbd backend, the
 * cluster's state store and the lock (a site on local disks keeps its state on this server). */
const NOT_FOR_LOCAL_LIST = /\/node_modules\/(execa|yaml)\/|\/dist\/(storage\/rbd|config\/cluster-store|system\/cluster-state|system\/lock)\.js$/

it('nodes list on a plain local site loads no execa, yaml, rbd backend or cluster store', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pxeroot-startup-site-'))
  try {
    await fs.mkdir(path.join(dir, 'etc/pxeroot'), {recursive: true})
    await fs.writeFile(path.join(dir, 'etc/pxeroot/pxeroot.yaml'), 'server: 10.20.0.1\nsubnet: 10.20.0.0/16\nnodes: {range: 10.20.1.0-10.20.1.99}\n')
    await fs.writeFile(path.join(dir, 'etc/pxeroot/nodes.yaml'), 'nodes:\n  - {name: node01, ip: 10.20.1.1}\n')
    const modules = await loaded(['nodes', 'list', '--root', dir])
    expect(modules.some((m) => m.endsWith('/dist/commands/nodes/list.js'))).toBe(true)
    expect(modules.filter((m) => NOT_FOR_LOCAL_LIST.test(m))).toEqual([])
  } finally {
    await fs.rm(dir, {recursive: true, force: true})
  }
}, 60_000)
