import {addNode, type NodeFields} from '../inventory/edit.js'
import {type Context} from '../system/context.js'
import {changeInventory, checkImageFlag, type ChangeOptions, type ChangeResult} from './inventory-change.js'

/** `nodes add NAME`: a node (the next free address unless given) and its boot entries, written together. */
export async function addNodeEntry(ctx: Context, name: string, fields: NodeFields, options: ChangeOptions = {}): Promise<ChangeResult> {
  return changeInventory(ctx, async (site, inventory) => {
    const after = addNode(site, inventory, name, fields)
    await checkImageFlag(ctx, site, fields.image)
    return after
  }, options)
}
