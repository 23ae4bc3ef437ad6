import {setNode, type NodeFields} from '../inventory/edit.js'
import {type Context} from '../system/context.js'
import {changeInventory, checkImageFlag, type ChangeOptions, type ChangeResult} from './inventory-change.js'

/** `nodes set NAME`: changes a node and its boot entries together. */
export async function setNodeEntry(ctx: Context, name: string, fields: NodeFields, options: ChangeOptions = {}): Promise<ChangeResult> {
  return changeInventory(ctx, async (site, inventory) => {
    const after = setNode(inventory, name, fields)
    await checkImageFlag(ctx, site, fields.image)
    return after
  }, options)
}
