import path from 'node:path'

import {type BootModel, type BootNode} from '../boot/model.js'
import {bootNodes, nfsNodes} from '../boot/nodes.js'
import {activeServices, dhcpBootFor, inactiveServices, loadersFor} from '../backends/registry.js'
import {selfBindRoots} from '../backends/nfs/root-mounts.js'
import {type BootLoader, type DesiredFile, type ProgramFile, type ServiceBackend} from '../backends/types.js'
import {type SiteModel} from '../config/site.js'
import {PreconditionError} from '../errors.js'
import {type Inventory} from '../inventory/inventory.js'
import {formatRevisionRef, nodeRootDir, revisionRootfs, type RevisionRef} from '../images/layout.js'
import {kernelFiles} from '../images/initramfs.js'
import {readManifest} from '../images/manifest.js'
import {renderServerRecord, serverRecord, serverRecordPath, siteVersion} from '../servers/record.js'
import {gatewayUnits} from '../render/systemd/gateway-units.js'
import {GATEWAY_DIR, gatewayDaemonArgs} from '../storage/rbd/gateway.js'
import {withStorage} from '../storage/registry.js'
import {cephEnv} from '../system/ceph.js'
import {exists, readIfExists} from '../system/files.js'
import {type Context} from '../system/context.js'
import {STATE, type Root} from '../system/paths.js'

/** The boot model of one apply: every node, the boot file each kind of client gets, and which roots need a self-bind. */
export async function bootModel(ctx: Context, site: SiteModel, inventory: Inventory): Promise<BootModel> {
  const nodes = await bootNodes(ctx, site, inventory)
  const version = site.servers.length > 0 ? {siteVersion: siteVersion(site, inventory)} : {}
  const gateway = site.storage.backend === 'rbd' && site.storage.rbd?.mode === 'gateway'
    ? {gatewayRoots: await withStorage(ctx, site, async (storage) => {
      const present = await storage.listRoots()
      return nfsNodes(nodes).filter((n) => present.has(n.name)).map((n) => n.name)
    })}
    : {}
  return {...modelFor(site, nodes), selfBinds: await selfBindRoots(ctx.root, nfsNodes(nodes)), ...version, ...gateway}
}

/** The units that keep an rbd gateway's roots attached across reboots (none elsewhere). */
function gatewayFiles(model: BootModel): DesiredFile[] {
  const {site} = model
  const nfs = activeServices(site).find((b) => b.kind === 'nfs')
  if (!model.gatewayRoots || !site.storage.rbd || !nfs) return []
  const settings = site.storage.rbd
  const file = path.posix.join(GATEWAY_DIR, '%i')
  return gatewayUnits({
    argv: ['qemu-storage-daemon', ...gatewayDaemonArgs(settings, settings.cephConf, '%i', file)],
    file, env: cephEnv({conf: settings.cephConf}), netns: settings.netns,
    roots: model.gatewayRoots.map((node) => ({node, where: nodeRootDir(site, node)})),
    nfsUnit: `${nfs.unit}.service`,
  })
}

export function modelFor(site: SiteModel, nodes: readonly BootNode[]): BootModel {
  return {site, nodes, dhcpBoot: dhcpBootFor(site)}
}

/** A loader's program file, read from the host's package (program files, not configuration: never under --root). */
async function programFile(loader: BootLoader, program: ProgramFile): Promise<Buffer> {
  for (const candidate of program.from) {
    const data = await readIfExists(candidate)
    if (data) return data
  }
  throw new PreconditionError(`${program.name} for ${loader.label} comes from the package ${program.pkg}, which is not installed (looked in ${program.from.join(', ')})`,
    `apt-get install ${program.pkg}, or leave ${loader.firmware} out of boot.firmware in ${STATE.siteFile}`)
}

async function adminTexts(root: Root, backends: readonly ServiceBackend[]): Promise<Map<string, string | undefined>> {
  const texts = new Map<string, string | undefined>()
  for (const file of new Set(backends.flatMap((b) => b.adminFiles))) texts.set(file, (await readIfExists(root.resolve(file)))?.toString('utf8'))
  return texts
}

async function loaderFiles(site: SiteModel, loader: BootLoader, model: BootModel): Promise<DesiredFile[]> {
  const tftp = (rel: string) => path.posix.join(site.paths.tftp, rel)
  const out: DesiredFile[] = []
  // tftpd-hpa serves only world-readable files, and with --secure follows no symlink out of its root: copies, 0644.
  // The tftp root is shared with the admin's own files: one pxeroot did not write is never replaced.
  for (const program of loader.programs) out.push({path: tftp(program.name), content: await programFile(loader, program), mode: 0o644, guarded: true})
  for (const file of loader.files(model)) out.push({path: tftp(file.path), content: file.content, mode: 0o644, guarded: true})
  return out
}

/**
 * Every file the boot configuration needs, rendered from the desired state: each active
 * daemon's files, the inactive daemons' edits of admin files taken back, and each loader's
 * program and configuration files. Reads only; writes nothing.
 */
export async function desiredFiles(root: Root, model: BootModel): Promise<DesiredFile[]> {
  const {site} = model
  const active = activeServices(site)
  const inactive = inactiveServices(site)
  const admin = await adminTexts(root, [...active, ...inactive])
  const files = [...active.flatMap((b) => b.files(model, admin)), ...inactive.flatMap((b) => b.retire(admin)), ...gatewayFiles(model)]
  for (const loader of loadersFor(site)) files.push(...await loaderFiles(site, loader, model))
  if (site.servers.length > 0) files.push(...await serverFiles(root, model))
  return files
}

/**
 * What a server of a site with several needs besides the daemons' files: the record of what it
 * rendered (servers/record.ts), and the kernel and initrd of every revision a node boots, where
 * this server's tftp root has none yet (any server may answer any node), copied from the image
 * store as `image build` publishes them.
 */
async function serverFiles(root: Root, model: BootModel): Promise<DesiredFile[]> {
  const {site} = model
  const record: DesiredFile = {path: serverRecordPath(site), content: renderServerRecord(serverRecord(model, model.siteVersion ?? '')), mode: 0o644, guarded: true}
  const tftp = (rel: string) => path.posix.join(site.paths.tftp, rel)
  const revisions = new Map(model.nodes.flatMap((n) => (n.revision ? [[formatRevisionRef(n.revision), n] as const] : [])))
  const published: DesiredFile[] = []
  for (const node of revisions.values()) {
    const wanted = [tftp(node.kernel), tftp(node.initrd)]
    if ((await Promise.all(wanted.map((p) => exists(root.resolve(p))))).every(Boolean)) continue
    const source = await revisionBootSources(root, site, node.revision!)
    if (!source) continue // not in this server's image store either: doctor's node boot files check says so
    published.push({path: wanted[0], content: source.kernel, mode: 0o644, published: true}, {path: wanted[1], content: source.initrd, mode: 0o644, published: true})
  }
  return [record, ...published]
}

/** A revision's kernel and initrd as its image store has them, or undefined when this server's store does not. */
async function revisionBootSources(root: Root, site: SiteModel, ref: RevisionRef): Promise<{kernel: Buffer, initrd: Buffer} | undefined> {
  const manifest = await readManifest(root, site, ref).catch(() => undefined)
  if (!manifest) return undefined
  const files = kernelFiles(root.resolve(revisionRootfs(site, ref)), manifest.kernel)
  const [kernel, initrd] = await Promise.all([readIfExists(files.kernel), readIfExists(files.initrd)])
  return kernel && initrd ? {kernel, initrd} : undefined
}
