import {promises as fs} from 'node:fs'

import {checkedPassword, loadBmcSecrets, saveBmcSecrets} from '../backends/power/secrets.js'
import {UserError} from '../errors.js'
import {setNode, type NodeFields} from '../inventory/edit.js'
import {type Context} from '../system/context.js'
import {changeInventory, checkImageFlag, type ChangeOptions, type ChangeResult} from './inventory-change.js'

export interface SetOptions extends ChangeOptions {
  /** --bmc-password-file: a file whose first line is the BMC's password ("-": standard input). */
  bmcPasswordFile?: string
}

/** Reads a password from a file the user names (a path of this machine, not under --root) or stdin. */
async function readPasswordSource(file: string): Promise<string> {
  if (file === '-') {
    const chunks: Buffer[] = []
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
    return Buffer.concat(chunks).toString('utf8')
  }
  return fs.readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new UserError(`--bmc-password-file: cannot read ${file} (${error.code ?? error.message})`)
  })
}

/**
 * `nodes set NAME`: changes a node and its boot entries together. A BMC password goes to the
 * secrets file (0600, root's), under the same lock and only once the inventory is saved; it is
 * never in the inventory, the diff or the output. Dropping the BMC (--no-bmc) drops its password.
 */
export async function setNodeEntry(ctx: Context, name: string, fields: NodeFields, options: SetOptions = {}): Promise<ChangeResult> {
  let password: string | undefined
  return changeInventory(ctx, async (site, inventory) => {
    const after = setNode(inventory, name, fields)
    await checkImageFlag(ctx, site, fields.image)
    const bmc = after.nodes.find((n) => n.name === name)?.bmc
    if (options.bmcPasswordFile !== undefined) {
      if (!bmc) throw new UserError(`--bmc-password-file: ${name} has no BMC`, `give it one in the same command: --bmc ADDR --bmc-user USER`)
      password = checkedPassword(await readPasswordSource(options.bmcPasswordFile), bmc.driver, options.bmcPasswordFile === '-' ? 'standard input' : options.bmcPasswordFile)
    }
    // The secrets file must be usable before anything is written (a file others can read is refused).
    if (password !== undefined || fields.bmc === null) await loadBmcSecrets(ctx.root)
    return after
  }, {
    ...options,
    afterSave: async (site, before, after) => {
      await options.afterSave?.(site, before, after)
      if (password === undefined && fields.bmc !== null) return
      const secrets = await loadBmcSecrets(ctx.root)
      if (password !== undefined) secrets.set(name, password)
      else if (!secrets.delete(name)) return
      await saveBmcSecrets(ctx, secrets)
    },
  })
}
