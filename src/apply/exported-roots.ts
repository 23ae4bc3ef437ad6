import {promises as fs} from 'node:fs'

import {type BootNode} from '../boot/model.js'
import {type SwitchedRoot} from '../backends/types.js'
import {mapBounded, settled} from '../system/pool.js'
import {IO_CONCURRENCY} from './plan.js'
import {readIfExists} from '../system/files.js'
import {STATE, type Root} from '../system/paths.js'

/**
 * Which directory each exported node root was when the NFS server was last told: its device and
 * inode, by host path. A rebase or rollback replaces the directory under the same path, so the
 * export file does not change, yet a server that keeps the directory it opened (NFS-Ganesha)
 * must be told. Comparing identities, not trusting the command that switched, also catches a
 * switch that a killed run left for the next one to finish.
 */
export type RootIdentities = Record<string, string>

export async function readExportedRoots(root: Root): Promise<RootIdentities> {
  const text = await readIfExists(root.resolve(STATE.exportedRoots))
  if (!text) return {}
  try {
    const data = JSON.parse(text.toString('utf8')) as {roots?: unknown}
    if (typeof data.roots !== 'object' || data.roots === null) return {}
    return Object.fromEntries(Object.entries(data.roots).filter((e): e is [string, string] => typeof e[1] === 'string'))
  } catch {
    // A damaged record only costs one missed refresh: it is rewritten by this apply.
    return {}
  }
}

export function exportedRootsText(roots: RootIdentities): string {
  return JSON.stringify({roots: Object.fromEntries(Object.entries(roots).sort(([a], [b]) => a.localeCompare(b)))}, null, 2) + '\n'
}

/** The identity of each node root that exists now. */
export async function rootIdentities(root: Root, nodes: readonly BootNode[]): Promise<RootIdentities> {
  const found = settled(await mapBounded(nodes, IO_CONCURRENCY, async (node) => {
    const st = await fs.stat(root.resolve(node.rootPath)).catch(() => undefined)
    return st?.isDirectory() ? [node.rootPath, `${st.dev}:${st.ino}`] as const : undefined
  }))
  return Object.fromEntries(found.filter((e) => e !== undefined))
}

/** Exports whose root is another directory than the one recorded; roots new to the record are not switched. */
export function switchedRoots(nodes: readonly BootNode[], recorded: RootIdentities, now: RootIdentities): SwitchedRoot[] {
  return nodes
    .filter((n) => recorded[n.rootPath] !== undefined && now[n.rootPath] !== undefined && recorded[n.rootPath] !== now[n.rootPath])
    .map((n) => ({exportId: n.exportId, path: n.rootPath}))
}

/** The record after this apply: what the server was told; a switch it could not be told of stays as recorded, to be retried. */
export function nextRecord(recorded: RootIdentities, now: RootIdentities, untold: readonly SwitchedRoot[]): RootIdentities {
  const next = {...now}
  for (const r of untold) next[r.path] = recorded[r.path]
  return next
}
