import path from 'node:path'

import {type SiteModel} from '../config/site.js'
import {PreconditionError} from '../errors.js'
import {bootFiles, currentRevision, nodeRootDir, parseRevisionRef, type RevisionRef} from '../images/layout.js'
import {type Inventory, byName} from '../nodes/inventory.js'
import {renderDhcpdInclude, renderDhcpdMain, withDhcpdInclude} from '../render/dhcpd.js'
import {renderKernelExports} from '../render/exports.js'
import {renderGaneshaExports, renderGaneshaMain, withGaneshaInclude} from '../render/ganesha.js'
import {type BootNode} from '../render/model.js'
import {PXELINUX_DIR, pxelinuxFileName, renderPxelinuxDefault, renderPxelinuxNode} from '../render/pxelinux.js'
import {renderTftpdDefault} from '../render/tftpd.js'
import {readIfExists} from '../system/files.js'
import {type Root} from '../system/paths.js'
import {OWNED_PATHS, SYSLINUX_FILES, type DesiredFile} from './owned.js'

/** Ganesha export ids for nodes: the low 16 bits of the address, unique within any subnet up to /16. */
export function nodeExportId(ip: string): number {
  const [, , c, d] = ip.split('.').map(Number)
  return c * 256 + d
}

/**
 * Each node resolved to the files it boots: the revision its root came from, or the site's
 * default image's current revision for a node that has no root yet (its boot files may not
 * exist; doctor says so).
 */
export async function bootNodes(root: Root, site: SiteModel, inventory: Inventory): Promise<BootNode[]> {
  return bootNodesFor(site, inventory, await currentRevision(root, site, site.boot.image))
}

/** Pure: the boot model of every node, given the default image's current revision (if any). */
export function bootNodesFor(site: SiteModel, inventory: Inventory, fallback?: RevisionRef): BootNode[] {
  return [...inventory.nodes].sort(byName).map((node) => {
    const ref = (node.image ? parseRevisionRef(node.image) : undefined) ?? fallback
    const files = ref ? bootFiles(ref) : {kernel: `pxeroot/${site.boot.image}/current/vmlinuz`, initrd: `pxeroot/${site.boot.image}/current/initrd.img`}
    return {
      name: node.name,
      ip: node.ip,
      mac: node.mac,
      rootPath: nodeRootDir(site, node.name),
      ...files,
      kernelArgs: [site.boot.kernelArgs, node.kernelArgs ?? ''].map((s) => s.trim()).filter(Boolean).join(' '),
      exportId: nodeExportId(node.ip),
    }
  })
}

async function syslinuxFile(name: string, candidates: readonly string[], pkg: string): Promise<Buffer> {
  for (const candidate of candidates) {
    const data = await readIfExists(candidate)
    if (data) return data
  }
  throw new PreconditionError(`${name} is not installed (looked in ${candidates.join(', ')})`, `apt-get install ${pkg}`)
}

/** Every file the boot configuration needs, rendered from the desired state. Reads only; writes nothing. */
export async function desiredFiles(root: Root, site: SiteModel, nodes: readonly BootNode[]): Promise<DesiredFile[]> {
  const files: DesiredFile[] = []
  const tftp = (rel: string) => path.posix.join(site.paths.tftp, rel)

  files.push({path: OWNED_PATHS.dhcpInclude, content: renderDhcpdInclude(site, nodes), mode: 0o644, service: 'dhcp'})
  const main = await readIfExists(root.resolve(OWNED_PATHS.dhcpMain))
  files.push({
    path: OWNED_PATHS.dhcpMain,
    content: main === undefined ? renderDhcpdMain(site, OWNED_PATHS.dhcpInclude) : withDhcpdInclude(main.toString('utf8'), OWNED_PATHS.dhcpInclude),
    mode: 0o644,
    service: 'dhcp',
    edited: true,
  })

  if (site.backends.nfs === 'kernel') {
    files.push({path: OWNED_PATHS.kernelExports, content: renderKernelExports(site, nodes), mode: 0o644, service: 'nfs'})
  } else {
    files.push({path: OWNED_PATHS.ganeshaExports, content: renderGaneshaExports(site, nodes), mode: 0o644, service: 'nfs'})
    const gmain = await readIfExists(root.resolve(OWNED_PATHS.ganeshaMain))
    files.push({
      path: OWNED_PATHS.ganeshaMain,
      content: gmain === undefined ? renderGaneshaMain(OWNED_PATHS.ganeshaExports) : withGaneshaInclude(gmain.toString('utf8'), OWNED_PATHS.ganeshaExports),
      mode: 0o644,
      service: 'nfs',
      edited: true,
    })
  }

  files.push({path: OWNED_PATHS.tftpdDefault, content: renderTftpdDefault(site), mode: 0o644, service: 'tftp'})
  // tftpd-hpa serves only world-readable files.
  for (const loader of SYSLINUX_FILES) {
    files.push({path: tftp(loader.name), content: await syslinuxFile(loader.name, loader.from, loader.pkg), mode: 0o644})
  }
  if (site.boot.unknown === 'local') files.push({path: tftp(`${PXELINUX_DIR}/default`), content: renderPxelinuxDefault(), mode: 0o644})
  for (const node of nodes) {
    files.push({path: tftp(`${PXELINUX_DIR}/${pxelinuxFileName(node)}`), content: renderPxelinuxNode(site, node), mode: 0o644})
  }
  return files
}
