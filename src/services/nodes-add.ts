import {addNode, type NodeFields} from '../inventory/edit.js'
import {type Context} from '../system/context.js'
import {changeInventory, type ChangeOptions, type ChangeResult} from './inventory-change.js'

/** `nodes add NAME`: a node (the next free address unless given) and its boot entries, written together. */
export async function addNodeEntry(ctx: Context, name: string, fields: NodeFields, options: ChangeOptions = {}): Promise<ChangeResult> {
  return changeInventory(ctx, (site, inventory) => addNode(site, inventory, name, fields), options)
}
