import {addNode, type NodeFields} from '../inventory/edit.js'
import {pickDiscovered, type UnknownMachine} from '../status/unknown.js'
import {type Context} from '../system/context.js'
import {changeInventory, checkImageFlag, type ChangeOptions, type ChangeResult} from './inventory-change.js'
import {readStatus} from './status.js'

export interface AddResult extends ChangeResult {
  /** With --discovered: the machine the node was bound to. */
  discovered?: UnknownMachine
}

/**
 * `nodes add NAME`: a node (the next free address unless given) and its boot entries, written
 * together. With `discovered`, the node is bound to a machine that asked this server for a lease
 * or a boot file and is in no node (as `pxeroot status` lists them; `fields.mac` picks one).
 */
export async function addNodeEntry(ctx: Context, name: string, fields: NodeFields, options: ChangeOptions & {discovered?: boolean} = {}): Promise<AddResult> {
  const discovered = options.discovered ? pickDiscovered((await readStatus(ctx)).unknown, fields.mac ?? undefined) : undefined
  if (discovered) ctx.log(`binding ${name} to ${discovered.mac}, seen ${discovered.seen ?? 'at an unknown time'} asking for ${discovered.asked.slice(0, 3).join(', ')}`)
  const result = await changeInventory(ctx, async (site, inventory) => {
    const after = addNode(site, inventory, name, discovered ? {...fields, mac: discovered.mac} : fields)
    await checkImageFlag(ctx, site, fields.image)
    return after
  }, options)
  return discovered ? {...result, discovered} : result
}
