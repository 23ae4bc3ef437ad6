import path from 'node:path'

import {type BootNode} from '../boot/model.js'
import {rbdTargetOf} from '../boot/rbd-cmdline.js'
import {formatRevisionRef} from '../images/layout.js'
import {rbdBootReadiness} from '../images/initrd.js'
import {exists} from '../system/files.js'
import {initrdMembers} from '../system/initrd.js'
import {type Check, type Facts} from './check.js'

/** Whether a node maps its root from RBD: its storage says so, or its command line does (boot=rbd in its kernelArgs). */
export function bootsFromRbd(node: BootNode): boolean {
  return node.root.kind === 'rbd' || rbdTargetOf(node.cmdline) !== undefined
}

/**
 * Each initrd a node boots from RBD, as the tftp root serves it: the boot script (scripts/rbd,
 * chosen by boot=rbd) and the kernel's RBD client (rbd, libceph: modules, or built in). An image
 * built before pxeroot's RBD boot has neither, and its nodes stop in the initramfs.
 */
export async function rbdBoot({ctx, site, model}: Facts): Promise<Check[]> {
  const nodes = model.nodes.filter(bootsFromRbd)
  if (nodes.length === 0) return [{check: 'rbd boot', status: 'skip', message: 'no node boots from RBD'}]
  const byInitrd = new Map<string, BootNode[]>()
  for (const node of nodes) byInitrd.set(node.initrd, [...(byInitrd.get(node.initrd) ?? []), node])
  const out: Check[] = []
  for (const [initrd, users] of byInitrd) {
    const file = ctx.root.resolve(path.posix.join(site.paths.tftp, initrd))
    // A missing initrd is the node boot files check's to report.
    if (!await exists(file)) continue
    const check = `rbd boot ${users[0].revision ? formatRevisionRef(users[0].revision) : initrd}`
    const who = `${users.map((n) => n.name).join(', ')} boot${users.length === 1 ? 's' : ''} it from RBD`
    const {script, missingModules} = rbdBootReadiness(await initrdMembers(file, (name) => name.endsWith('/modules.builtin')))
    if (script && missingModules.length === 0) {
      out.push({check, status: 'ok', message: `its initrd has the RBD boot script and the kernel's RBD client (rbd, libceph); ${who}`})
      continue
    }
    const lacks = [...(script ? [] : ['the RBD boot script (scripts/rbd)']), ...missingModules.map((m) => `${m}.ko`)]
    out.push({
      check,
      status: 'fail',
      message: `its initrd (${initrd}) lacks ${lacks.join(', ')}: ${who} and would stop in the initramfs`,
      fix: script
        ? 'its kernel has no RBD client: boot these nodes from a revision whose kernel has CONFIG_BLK_DEV_RBD'
        : 'the image was built before pxeroot booted from RBD: make a new revision ("pxeroot image update", which adds it, or "pxeroot image build") and rebase these nodes on it',
    })
  }
  return out
}
