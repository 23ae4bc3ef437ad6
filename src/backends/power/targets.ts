import {promises as fs} from 'node:fs'

import {UserError} from '../../errors.js'
import {type InventoryNode} from '../../inventory/inventory.js'
import {type Root} from '../../system/paths.js'
import {bmcPassword, loadBmcSecrets, PASSWORD_ENV} from './secrets.js'
import {type BmcTarget} from './types.js'

/**
 * Every node's BMC with its password, or one line per node that has none to offer: no BMC in the
 * inventory, no password, an unreadable CA file. Nothing is contacted. Callers refuse the whole
 * request on any line, before touching a node.
 */
export async function bmcTargets(root: Root, nodes: readonly InventoryNode[], env: NodeJS.ProcessEnv = process.env): Promise<{targets: BmcTarget[], problems: string[]}> {
  const secrets = nodes.some((n) => n.bmc) ? await loadBmcSecrets(root) : new Map<string, string>()
  const targets: BmcTarget[] = []
  const problems: string[] = []
  for (const node of nodes) {
    if (!node.bmc) {
      problems.push(`${node.name}: has no BMC: give it one with "pxeroot nodes set ${node.name} --bmc ADDR --bmc-user USER --bmc-password-file FILE"`)
      continue
    }
    const password = bmcPassword(node.name, secrets, env)
    if (password === undefined) {
      problems.push(`${node.name}: no password for its BMC at ${node.bmc.address}: "pxeroot nodes set ${node.name} --bmc-password-file FILE", or ${PASSWORD_ENV} in the environment`)
      continue
    }
    let ca: string | undefined
    if (node.bmc.ca) {
      ca = await fs.readFile(root.resolve(node.bmc.ca), 'utf8').catch(() => undefined)
      if (ca === undefined) {
        problems.push(`${node.name}: bmc.ca ${node.bmc.ca} cannot be read: "pxeroot nodes set ${node.name} --bmc-ca FILE" with the PEM of the BMC's CA or certificate`)
        continue
      }
    }
    targets.push({node: node.name, bmc: node.bmc, password, ...(ca ? {ca} : {})})
  }
  return {targets, problems}
}

/** The refusal of a request some of whose nodes cannot be power-controlled: one line per node, nothing touched. */
export function noPowerControl(problems: readonly string[], verb: string): UserError {
  return new UserError(`${problems.length} node(s) cannot be power-controlled, so nothing was ${verb}:\n  ${problems.join('\n  ')}`)
}
