import {Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {mib} from '../../storage/space.js'
import {listNodes, type NodeRow} from '../../services/nodes-list.js'
import {table} from '../../cli/table.js'

export default class NodesList extends BaseCommand {
  static summary = 'List the nodes: address, binding, image revision, clone method, root size, drift'
  static description = 'SIZE is what each root holds on its own: exclusive extents on btrfs, allocated blocks elsewhere (which counts extents an xfs reflink clone shares with its image). A * marks allocated blocks. Sizes cost nothing where the nodes filesystem is btrfs with quotas enabled ("btrfs quota enable PATH"); elsewhere --sizes measures each root (seconds per root). BEHIND is how many revisions the node is behind its image\'s current one.'
  static aliases = ['node:list', 'nodes:ls']
  static flags = {
    sizes: Flags.boolean({description: 'measure each root\'s disk use where btrfs quotas do not tell it (walks every root)', aliases: ['size'], default: false}),
  }

  public async run(): Promise<{nodes: NodeRow[]}> {
    const {flags} = await this.parse(NodesList)
    const nodes = await listNodes(this.makeContext(flags.root), {size: flags.sizes})
    if (!this.jsonEnabled()) {
      if (nodes.length === 0) this.log('No nodes yet: add one with "pxeroot nodes add NAME" or "pxeroot nodes clone N".')
      else if (nodes.some((n) => n.server)) {
        // Several servers: each root is on its server's storage; this one sees only its own.
        process.stdout.write(table(['NAME', 'IP', 'MAC', 'IMAGE', 'METHOD', 'SIZE', 'BEHIND', 'SERVER', 'ROOT', 'PXELINUX'],
          nodes.map((n) => [...rowStart(n), n.server ?? '-', n.rootExists ? n.root : `${n.root} (not here)`, n.pxelinux])))
      } else {
        process.stdout.write(table(['NAME', 'IP', 'MAC', 'IMAGE', 'METHOD', 'SIZE', 'BEHIND', 'ROOT', 'PXELINUX'],
          nodes.map((n) => [...rowStart(n), n.rootExists ? n.root : `${n.root} (missing)`, n.pxelinux])))
      }
    }
    return {nodes}
  }
}

/** The columns every listing starts with. */
function rowStart(n: NodeRow): string[] {
  return [n.name, n.ip, n.mac ?? '-', n.image ?? '-', n.method ?? '-', n.size === null ? '-' : `${mib(n.size)}${n.sizeKind === 'allocated' ? '*' : ''}`, n.behind === null ? '-' : String(n.behind)]
}
