import {promises as fs} from 'node:fs'
import path from 'node:path'

import {desiredFiles} from '../apply/desired.js'
import {readExportedRoots, rootIdentities, switchedRoots} from '../apply/exported-roots.js'
import {planFiles, readOwned} from '../apply/plan.js'
import {SHIM} from '../backends/loaders/grub.js'
import {activeServices, packagesFor} from '../backends/registry.js'
import {nfsNodes} from '../boot/nodes.js'
import {type SiteModel} from '../config/site.js'
import {PxerootError, UserError} from '../errors.js'
import {formatRevisionRef} from '../images/layout.js'
import {readManifest} from '../images/manifest.js'
import {revisionSecureBoot} from '../images/secure-boot.js'
import {inventoryProblems, type Inventory} from '../inventory/inventory.js'
import {exists, filesUnder, readIfExists} from '../system/files.js'
import {STATE} from '../system/paths.js'
import {dhcpChecks, proxyUefiVerdict} from './dhcp.js'
import {rbdBoot} from './rbd.js'
import {serverChecks} from './servers.js'
import {type Check, type Facts} from './check.js'
import {leaseFiles} from './leases.js'
import {webServer} from './web.js'

export type {Check, Facts, Status} from './check.js'

const ok = (check: string, message: string): Check => ({check, status: 'ok', message})

async function packages({ctx, site}: Facts): Promise<Check[]> {
  const wanted = packagesFor(site)
  const result = await ctx.runner.run('dpkg-query', ['-W', '-f', '${Package} ${db:Status-Status}\\n', ...wanted], {reject: false, timeout: 30_000})
  const installed = new Set(result.stdout.split('\n').filter((l) => l.endsWith(' installed')).map((l) => l.split(' ')[0]))
  const missing = wanted.filter((p) => !installed.has(p))
  return [missing.length === 0
    ? ok('packages', `installed: ${wanted.join(', ')}`)
    : {check: 'packages', status: 'fail', message: `not installed: ${missing.join(', ')}`, fix: `apt-get install ${missing.join(' ')} (or: pxeroot init --install-packages --force ...)`}]
}

async function services({ctx, site}: Facts): Promise<Check[]> {
  if (!ctx.root.isHost) return [{check: 'services', status: 'skip', message: '--root is set: the host\'s services are not this root\'s'}]
  const units = activeServices(site).map((b) => b.unit)
  const off: string[] = []
  for (const unit of units) {
    const r = await ctx.runner.run('systemctl', ['is-enabled', `${unit}.service`], {reject: false, timeout: 10_000}).catch(() => ({exitCode: 1, stdout: 'no systemctl'}))
    if (r.exitCode !== 0) off.push(`${unit} (${r.stdout.trim() || 'not enabled'})`)
  }
  return [off.length === 0 ? ok('services', `enabled: ${units.join(', ')}`)
    : {check: 'services', status: 'warn', message: `not enabled: ${off.join(', ')}`, fix: `systemctl enable --now ${units.join(' ')}`}]
}

async function upToDate({ctx, model}: Facts): Promise<Check[]> {
  const plan = await planFiles(ctx.root, await desiredFiles(ctx.root, model), await readOwned(ctx.root))
  const stale = plan.changes.filter((c) => c.action !== 'unchanged').map((c) => c.path)
  return [stale.length === 0 ? ok('boot files', 'every generated file matches the configuration')
    : {check: 'boot files', status: 'fail', message: `${stale.length} file(s) differ from the configuration: ${stale.slice(0, 5).join(', ')}`, fix: 'pxeroot apply --dry-run, then pxeroot apply'}]
}

/** Each daemon's own checker on the files on disk (an admin's hand edit shows here first). */
async function daemonChecks({ctx, site}: Facts): Promise<Check[]> {
  const out: Check[] = []
  for (const backend of activeServices(site)) {
    if (!backend.check) continue
    const name = `${backend.daemon} config`
    const texts = new Map<string, string>()
    for (const p of backend.paths) {
      const text = await readIfExists(ctx.root.resolve(p))
      if (text) texts.set(p, text.toString('utf8'))
    }
    const missing = backend.paths.filter((p) => !texts.has(p))
    if (missing.length > 0) {
      out.push({check: name, status: 'fail', message: `${missing[0]} does not exist`, fix: 'pxeroot apply'})
      continue
    }
    try {
      await backend.check(ctx, {text: (p) => texts.get(p)})
      out.push(ok(name, `${backend.daemon} accepts the configuration on disk`))
    } catch (error) {
      // The checker's own fix names the file and line at fault when it knows them.
      const fix = error instanceof PxerootError && error.suggestion ? error.suggestion : `pxeroot apply (or fix ${backend.adminFiles[0] ?? backend.paths[0]} by hand)`
      out.push({check: name, status: 'fail', message: (error as Error).message, fix})
    }
  }
  return out
}

/** tftpd-hpa serves only world-readable files. */
async function tftpReadable({ctx, site}: Facts): Promise<Check[]> {
  const dir = ctx.root.resolve(site.paths.tftp)
  if (!await exists(dir)) return [{check: 'tftp root', status: 'fail', message: `${site.paths.tftp} does not exist`, fix: 'pxeroot apply'}]
  const unreadable: string[] = []
  for (const file of await filesUnder(dir)) {
    const st = await fs.stat(file)
    if ((st.mode & 0o004) === 0) unreadable.push(ctx.root.hostPath(file))
  }
  return [unreadable.length === 0 ? ok('tftp root', `every file under ${site.paths.tftp} is world-readable`)
    : {check: 'tftp root', status: 'fail', message: `tftpd-hpa will refuse ${unreadable.length} file(s) that are not world-readable: ${unreadable.slice(0, 5).join(', ')}`, fix: `chmod o+r ${unreadable.slice(0, 5).join(' ')}`}]
}

async function nodeBootFiles({ctx, site, model}: Facts): Promise<Check[]> {
  const {nodes} = model
  const missing: string[] = []
  for (const node of nodes) {
    for (const rel of [node.kernel, node.initrd]) {
      if (!await exists(ctx.root.resolve(path.posix.join(site.paths.tftp, rel)))) missing.push(`${node.name}: ${rel}`)
    }
  }
  if (nodes.length === 0) return [{check: 'node boot files', status: 'skip', message: 'no nodes yet'}]
  return [missing.length === 0 ? ok('node boot files', `kernel and initrd present for ${nodes.length} node(s)`)
    : {check: 'node boot files', status: 'warn', message: `boot files do not exist yet: ${missing.slice(0, 4).join('; ')}${missing.length > 4 ? ` (+${missing.length - 4})` : ''}`, fix: `pxeroot image build ${site.boot.image}`}]
}

/** Under Secure Boot, each revision a node boots: a kernel shim trusts, and no module lockdown refuses. */
async function secureBoot({ctx, site, storage, model}: Facts): Promise<Check[]> {
  if (!site.boot.firmware.includes('uefi')) return [{check: 'secure boot', status: 'skip', message: 'boot.firmware has no uefi'}]
  const revisions = new Map(model.nodes.filter((n) => n.revision).map((n) => [formatRevisionRef(n.revision!), n.revision!]))
  if (revisions.size === 0) return [{check: 'secure boot', status: 'skip', message: 'no node boots an image revision yet'}]
  const out: Check[] = []
  for (const [name, ref] of revisions) {
    const manifest = await readManifest(ctx.root, site, ref).catch(() => undefined)
    if (!manifest) continue // the node boot files check reports a revision that is not there
    const {kernel, modules} = await revisionSecureBoot(ctx, site, storage, ref, manifest.kernel, SHIM)
    const check = `secure boot ${name}`
    out.push(kernel.status === 'trusted' ? ok(check, `kernel ${kernel.message}`)
      : {check, status: 'warn', message: `kernel ${kernel.status}: ${kernel.message}`,
        fix: kernel.status === 'unknown' ? undefined : 'boot a Debian-signed kernel, sign this one with a key enrolled as a MOK on the nodes, or turn Secure Boot off on them'})
    if (modules.status !== 'ok') {
      out.push({check, status: 'warn', message: `modules: ${modules.message}`,
        fix: modules.status === 'unknown' ? undefined : 'sign them with a key and enroll it as a MOK on each node (mokutil --import, confirmed at the node\'s console), or turn Secure Boot off on the nodes'})
    }
  }
  return out
}

/** What the storage backend says of itself and the nodes' roots in it (rbd: the cluster, the pool, each clone and key). */
async function storageHealth({storage, inventory}: Facts): Promise<Check[]> {
  if (!storage.check) return []
  return storage.check(inventory.nodes.map((n) => ({name: n.name, image: n.image})))
}

async function nodeRoots({storage, model}: Facts): Promise<Check[]> {
  // On a site with several servers, an NFS root is on the storage of the server that holds it: this one checks its own.
  const nodes = model.nodes.filter((n) => n.root.kind !== 'nfs' || n.exportedHere)
  const present = await storage.listRoots()
  const missing = nodes.filter((n) => !present.has(n.name)).map((n) => n.name)
  if (nodes.length === 0) return [{check: 'node roots', status: 'skip', message: model.nodes.length === 0 ? 'no nodes yet' : 'no node\'s root is on this server'}]
  return [missing.length === 0 ? ok('node roots', `all ${nodes.length} root(s) exist`)
    : {check: 'node roots', status: 'warn', message: `no root yet for ${missing.join(', ')}`, fix: `pxeroot nodes clone ${nodes.length}`}]
}

async function exportsActive({ctx, site, model}: Facts): Promise<Check[]> {
  if (!ctx.root.isHost) return [{check: 'exports', status: 'skip', message: '--root is set: the live export table is the host\'s'}]
  // A rebase or rollback applied with --no-reload (or while the server could not be told).
  const exported = nfsNodes(model.nodes)
  const switched = switchedRoots(exported, await readExportedRoots(ctx.root), await rootIdentities(ctx.root, exported))
  const untold: Check[] = switched.length === 0 ? [] : [{check: 'exports', status: 'fail', fix: 'pxeroot apply',
    message: `the NFS server was not told that these roots were replaced, so it may still serve the old tree: ${exported.filter((n) => switched.some((r) => r.path === n.rootPath)).map((n) => n.name).join(', ')}`}]
  if (site.backends.nfs !== 'kernel') return untold.length > 0 ? untold : [{check: 'exports', status: 'skip', message: 'NFS-Ganesha: check with "showmount -e"'}]
  const r = await ctx.runner.run('exportfs', ['-v'], {reject: false, timeout: 10_000})
  const inactive = exported.filter((n) => !r.stdout.split('\n').some((l) => l.startsWith(n.rootPath)))
  return [...untold, inactive.length === 0 ? ok('exports', 'every node root is exported')
    : {check: 'exports', status: 'fail', message: `not exported now: ${inactive.map((n) => n.name).join(', ')}`, fix: 'pxeroot apply (runs exportfs -ra)'}]
}

/**
 * The site's DHCP server runs alone (two must never answer on one network), on the interface
 * that holds the server address; in proxy mode with UEFI, what the network's server must send.
 */
async function dhcpServer({ctx, site}: Facts): Promise<Check[]> {
  const proxy = proxyUefiVerdict(site)
  const settings: Check[] = proxy ? [{check: 'dhcp proxy', ...proxy}] : []
  if (!ctx.root.isHost) return [...settings, {check: 'dhcp server', status: 'skip', message: '--root is set: the host\'s DHCP servers are not this root\'s'}]
  return [...settings, ...(await dhcpChecks(ctx, site)).map(({check, verdict}) => ({check, ...verdict}))]
}

/** The inventory as every nodes command and apply would take it: readable, and fitting the site. */
export function inventoryCheck(site: SiteModel, loaded: Inventory | UserError): Check {
  const fix = `edit ${STATE.inventoryFile} as the message says (or change the node with "pxeroot nodes set")`
  if (loaded instanceof UserError) return {check: 'inventory', status: 'fail', message: loaded.message, fix}
  const problems = inventoryProblems(site, loaded)
  return problems.length === 0 ? ok('inventory', `${loaded.nodes.length} node(s), every one valid for this site`)
    : {check: 'inventory', status: 'fail', message: `${STATE.inventoryFile}: ${problems.join('; ')}`, fix}
}

export interface DoctorCheck {
  /** The name its lines carry. */
  name: string
  /** It looks at the nodes, so it says nothing true while the inventory is invalid. */
  needsNodes: boolean
  run: (facts: Facts) => Promise<Check[]>
}

/** Every check doctor runs after the inventory's, in the order it prints them; each yields one or more lines. */
export const CHECKS: readonly DoctorCheck[] = [
  {name: 'packages', needsNodes: false, run: packages},
  {name: 'services', needsNodes: false, run: services},
  {name: 'dhcp server', needsNodes: false, run: dhcpServer},
  {name: 'leases', needsNodes: false, run: leaseFiles},
  {name: 'boot files', needsNodes: true, run: upToDate},
  {name: 'config', needsNodes: false, run: daemonChecks},
  {name: 'tftp root', needsNodes: false, run: tftpReadable},
  {name: 'node boot files', needsNodes: true, run: nodeBootFiles},
  {name: 'secure boot', needsNodes: true, run: secureBoot},
  {name: 'rbd boot', needsNodes: true, run: rbdBoot},
  {name: 'node roots', needsNodes: true, run: nodeRoots},
  {name: 'storage', needsNodes: true, run: storageHealth},
  {name: 'exports', needsNodes: true, run: exportsActive},
  {name: 'web server', needsNodes: true, run: webServer},
  {name: 'servers', needsNodes: true, run: ({ctx, site, inventory}) => serverChecks(ctx.root.isHost ? ctx.runner : undefined, site, inventory)},
]
