import {promises as fs} from 'node:fs'
import path from 'node:path'

import {bootNodes, desiredFiles} from '../apply/desired.js'
import {OWNED_PATHS} from '../apply/owned.js'
import {planFiles, readOwned} from '../apply/plan.js'
import {checkDhcpd} from '../apply/validate.js'
import {type Context} from '../base-command.js'
import {packagesFor} from '../config/init.js'
import {loadSite} from '../config/site-file.js'
import {type SiteModel} from '../config/site.js'
import {PxerootError} from '../errors.js'
import {loadInventory, type Inventory} from '../nodes/inventory.js'
import {type BootNode} from '../render/model.js'
import {exists, readIfExists} from '../system/files.js'

export type Status = 'ok' | 'warn' | 'fail' | 'skip'

export interface Check {
  check: string
  status: Status
  message: string
  fix?: string
}

interface Facts {
  ctx: Context
  site: SiteModel
  inventory: Inventory
  nodes: BootNode[]
}

const ok = (check: string, message: string): Check => ({check, status: 'ok', message})

async function packages({ctx, site}: Facts): Promise<Check> {
  const wanted = packagesFor(site)
  const result = await ctx.runner.run('dpkg-query', ['-W', '-f', '${Package} ${db:Status-Status}\\n', ...wanted], {reject: false, timeout: 30_000})
  const installed = new Set(result.stdout.split('\n').filter((l) => l.endsWith(' installed')).map((l) => l.split(' ')[0]))
  const missing = wanted.filter((p) => !installed.has(p))
  return missing.length === 0
    ? ok('packages', `installed: ${wanted.join(', ')}`)
    : {check: 'packages', status: 'fail', message: `not installed: ${missing.join(', ')}`, fix: `apt-get install ${missing.join(' ')} (or: pxeroot init --install-packages --force ...)`}
}

async function services({ctx, site}: Facts): Promise<Check> {
  if (!ctx.root.isHost) return {check: 'services', status: 'skip', message: '--root is set: the host\'s services are not this root\'s'}
  const units = ['isc-dhcp-server', 'tftpd-hpa', site.backends.nfs === 'kernel' ? 'nfs-kernel-server' : 'nfs-ganesha']
  const off: string[] = []
  for (const unit of units) {
    const r = await ctx.runner.run('systemctl', ['is-enabled', `${unit}.service`], {reject: false, timeout: 10_000}).catch(() => ({exitCode: 1, stdout: 'no systemctl'}))
    if (r.exitCode !== 0) off.push(`${unit} (${r.stdout.trim() || 'not enabled'})`)
  }
  return off.length === 0 ? ok('services', `enabled: ${units.join(', ')}`)
    : {check: 'services', status: 'warn', message: `not enabled: ${off.join(', ')}`, fix: `systemctl enable --now ${units.join(' ')}`}
}

async function upToDate({ctx, site, nodes}: Facts): Promise<Check> {
  const plan = await planFiles(ctx.root, await desiredFiles(ctx.root, site, nodes), await readOwned(ctx.root))
  const stale = plan.changes.filter((c) => c.action !== 'unchanged').map((c) => c.path)
  return stale.length === 0 ? ok('boot files', 'every generated file matches the configuration')
    : {check: 'boot files', status: 'fail', message: `${stale.length} file(s) differ from the configuration: ${stale.slice(0, 5).join(', ')}`, fix: 'pxeroot apply --dry-run, then pxeroot apply'}
}

async function walk(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, {withFileTypes: true}).catch(() => [])
  const out: string[] = []
  for (const e of entries) {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) out.push(...await walk(p))
    else if (e.isFile()) out.push(p)
  }
  return out
}

/** tftpd-hpa serves only world-readable files. */
async function tftpReadable({ctx, site}: Facts): Promise<Check> {
  const dir = ctx.root.resolve(site.paths.tftp)
  if (!await exists(dir)) return {check: 'tftp root', status: 'fail', message: `${site.paths.tftp} does not exist`, fix: 'pxeroot apply'}
  const unreadable: string[] = []
  for (const file of await walk(dir)) {
    const st = await fs.stat(file)
    if ((st.mode & 0o004) === 0) unreadable.push(ctx.root.hostPath(file))
  }
  return unreadable.length === 0 ? ok('tftp root', `every file under ${site.paths.tftp} is world-readable`)
    : {check: 'tftp root', status: 'fail', message: `tftpd-hpa will refuse ${unreadable.length} file(s) that are not world-readable: ${unreadable.slice(0, 5).join(', ')}`, fix: `chmod o+r ${unreadable.slice(0, 5).join(' ')}`}
}

async function nodeBootFiles({ctx, site, nodes}: Facts): Promise<Check> {
  const missing: string[] = []
  for (const node of nodes) {
    for (const rel of [node.kernel, node.initrd]) {
      if (!await exists(ctx.root.resolve(path.posix.join(site.paths.tftp, rel)))) missing.push(`${node.name}: ${rel}`)
    }
  }
  if (nodes.length === 0) return {check: 'node boot files', status: 'skip', message: 'no nodes yet'}
  return missing.length === 0 ? ok('node boot files', `kernel and initrd present for ${nodes.length} node(s)`)
    : {check: 'node boot files', status: 'warn', message: `boot files do not exist yet: ${missing.slice(0, 4).join('; ')}${missing.length > 4 ? ` (+${missing.length - 4})` : ''}`, fix: `pxeroot image build ${site.boot.image}`}
}

async function nodeRoots({ctx, nodes}: Facts): Promise<Check> {
  const missing = []
  for (const node of nodes) if (!await exists(ctx.root.resolve(node.rootPath))) missing.push(node.name)
  if (nodes.length === 0) return {check: 'node roots', status: 'skip', message: 'no nodes yet'}
  return missing.length === 0 ? ok('node roots', `all ${nodes.length} root(s) exist`)
    : {check: 'node roots', status: 'warn', message: `no root yet for ${missing.join(', ')}`, fix: `pxeroot nodes clone ${nodes.length}`}
}

async function dhcpdValid({ctx}: Facts): Promise<Check> {
  const main = await readIfExists(ctx.root.resolve(OWNED_PATHS.dhcpMain))
  const include = await readIfExists(ctx.root.resolve(OWNED_PATHS.dhcpInclude))
  if (!main || !include) return {check: 'dhcpd config', status: 'fail', message: `${main ? OWNED_PATHS.dhcpInclude : OWNED_PATHS.dhcpMain} does not exist`, fix: 'pxeroot apply'}
  try {
    await checkDhcpd(ctx.root, ctx.runner, main.toString(), include.toString())
    return ok('dhcpd config', 'dhcpd -t accepts the configuration on disk')
  } catch (error) {
    return {check: 'dhcpd config', status: 'fail', message: (error as Error).message, fix: 'pxeroot apply (or fix dhcpd.conf by hand)'}
  }
}

async function exportsActive({ctx, site, nodes}: Facts): Promise<Check> {
  if (!ctx.root.isHost) return {check: 'exports', status: 'skip', message: '--root is set: the live export table is the host\'s'}
  if (site.backends.nfs !== 'kernel') return {check: 'exports', status: 'skip', message: 'NFS-Ganesha: check with "showmount -e"'}
  const r = await ctx.runner.run('exportfs', ['-v'], {reject: false, timeout: 10_000})
  const inactive = nodes.filter((n) => !r.stdout.split('\n').some((l) => l.startsWith(n.rootPath)))
  return inactive.length === 0 ? ok('exports', 'every node root is exported')
    : {check: 'exports', status: 'fail', message: `not exported now: ${inactive.map((n) => n.name).join(', ')}`, fix: 'pxeroot apply (runs exportfs -ra)'}
}

const CHECKS = [packages, services, upToDate, dhcpdValid, tftpReadable, nodeBootFiles, nodeRoots, exportsActive]

/** Every check, each isolated: one that throws is reported as failed, the others still run. */
export async function runDoctor(ctx: Context): Promise<Check[]> {
  const site = await loadSite(ctx.root)
  const inventory = await loadInventory(ctx.root)
  const facts: Facts = {ctx, site, inventory, nodes: await bootNodes(ctx.root, site, inventory)}
  const results: Check[] = []
  for (const check of CHECKS) {
    try {
      results.push(await check(facts))
    } catch (error) {
      results.push({check: check.name, status: 'fail', message: (error as Error).message, fix: error instanceof PxerootError ? error.suggestion : undefined})
    }
  }
  return results
}
