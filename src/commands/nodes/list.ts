import {BaseCommand} from '../../base-command.js'
import {listNodes, type NodeRow} from '../../nodes/listing.js'
import {table} from '../../ui/table.js'

export default class NodesList extends BaseCommand {
  static summary = 'List the nodes: address, binding, image revision, root, pxelinux file'
  static aliases = ['node:list', 'nodes:ls']

  public async run(): Promise<{nodes: NodeRow[]}> {
    const {flags} = await this.parse(NodesList)
    const nodes = await listNodes(this.makeContext(flags.root))
    if (!this.jsonEnabled()) {
      if (nodes.length === 0) this.log('No nodes yet: add one with "pxeroot nodes add NAME" or "pxeroot nodes clone N".')
      else process.stdout.write(table(['NAME', 'IP', 'MAC', 'IMAGE', 'ROOT', 'PXELINUX'],
        nodes.map((n) => [n.name, n.ip, n.mac ?? '-', n.image ?? '-', n.rootExists ? n.root : `${n.root} (missing)`, n.pxelinux])))
    }
    return {nodes}
  }
}
