import {type InventoryNode} from '../inventory/inventory.js'
import {CLONE_METHODS, type CloneMethod} from '../storage/backend.js'

/**
 * What pxeroot records about a node's root in the inventory's optional `clone` field
 * (the inventory schema passes extra fields through):
 *   clone: {method, machineId, previous?: {image, method}}
 * `image` (name@N) stays the inventory's own field: the revision the current root came from.
 */
export interface CloneRecord {
  method: CloneMethod
  machineId?: string
  /** The root kept beside the current one for `nodes rollback` (<name>.previous). */
  previous?: {image?: string, method: CloneMethod}
}

function asMethod(value: unknown): CloneMethod | undefined {
  return CLONE_METHODS.includes(value as CloneMethod) ? value as CloneMethod : undefined
}

/** The record of a node, read loosely: a hand-edited or older inventory never makes this throw. */
export function cloneRecordOf(node: InventoryNode): CloneRecord | undefined {
  const raw = (node as Record<string, unknown>).clone
  if (!raw || typeof raw !== 'object') return undefined
  const r = raw as Record<string, unknown>
  const method = asMethod(r.method)
  if (!method) return undefined
  const prev = r.previous && typeof r.previous === 'object' ? r.previous as Record<string, unknown> : undefined
  const prevMethod = asMethod(prev?.method)
  return {
    method,
    machineId: typeof r.machineId === 'string' && /^[0-9a-f]{32}$/.test(r.machineId) ? r.machineId : undefined,
    previous: prevMethod ? {image: typeof prev?.image === 'string' ? prev.image : undefined, method: prevMethod} : undefined,
  }
}

export function withCloneRecord(node: InventoryNode, record: CloneRecord): InventoryNode {
  const clean: Record<string, unknown> = {method: record.method}
  if (record.machineId) clean.machineId = record.machineId
  if (record.previous) clean.previous = record.previous.image ? {image: record.previous.image, method: record.previous.method} : {method: record.previous.method}
  return {...node, clone: clean}
}
