import {setNode, type NodeFields} from '../inventory/edit.js'
import {type Context} from '../system/context.js'
import {changeInventory, type ChangeOptions, type ChangeResult} from './inventory-change.js'

/** `nodes set NAME`: changes a node and its boot entries together. */
export async function setNodeEntry(ctx: Context, name: string, fields: NodeFields, options: ChangeOptions = {}): Promise<ChangeResult> {
  return changeInventory(ctx, (_site, inventory) => setNode(inventory, name, fields), options)
}
