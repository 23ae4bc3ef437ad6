import path from 'node:path'

/**
 * Every path pxeroot reads or writes as configuration or state is a "host path" (what it is
 * called on the server, and what rendered files refer to) resolved under a root prefix, so tests
 * and demos run under a temporary root and never touch the host's /etc.
 */
export interface Root {
  /** Absolute directory every host path is resolved under; "/" on a real server. */
  readonly prefix: string
  /** The on-disk location of a host path. */
  resolve(hostPath: string): string
  /** The host path of an on-disk location under the prefix (inverse of resolve). */
  hostPath(diskPath: string): string
  readonly isHost: boolean
}

export function makeRoot(prefix = '/'): Root {
  const abs = path.resolve(prefix)
  return {
    prefix: abs,
    isHost: abs === '/',
    resolve(hostPath: string): string {
      if (!path.isAbsolute(hostPath)) throw new Error(`internal: host path must be absolute: ${hostPath}`)
      return abs === '/' ? path.normalize(hostPath) : path.join(abs, path.normalize(hostPath))
    },
    hostPath(diskPath: string): string {
      const rel = path.relative(abs, path.resolve(diskPath))
      if (rel.startsWith('..') || path.isAbsolute(rel)) throw new Error(`internal: ${diskPath} is outside the root ${abs}`)
      return '/' + rel
    },
  }
}

/** Where pxeroot keeps its own files; all are host paths. */
export const STATE = {
  siteFile: '/etc/pxeroot/pxeroot.yaml',
  inventoryFile: '/etc/pxeroot/nodes.yaml',
  /** The inventory's data as JSON, tagged with the hash of nodes.yaml's text (inventory.ts). */
  inventoryCopy: '/var/lib/pxeroot/nodes.json',
  stateDir: '/var/lib/pxeroot',
  ownedManifest: '/var/lib/pxeroot/owned.json',
  exportedRoots: '/var/lib/pxeroot/exported-roots.json',
  lockFile: '/var/lib/pxeroot/lock',
} as const
