/** A node that boots with its root on its own RBD clone, as its kernel command line says. */
export interface RbdTarget {
  /** POOL/NAMESPACE/IMAGE, as the boot script names it (POOL/IMAGE in the default namespace). */
  name: string
  /** ADDR:PORT of each monitor. */
  monitors: string[]
  user: string
}

/**
 * The RBD root a kernel command line asks for, read as the initramfs does (init takes the last
 * boot=, the boot script the last pxeroot.rbd= and pxeroot.rbd_user=); undefined when it does
 * not boot with boot=rbd. Pure.
 */
export function rbdTargetOf(cmdline: string): RbdTarget | undefined {
  let boot: string | undefined
  let spec: string | undefined
  let user = ''
  for (const word of cmdline.split(/\s+/)) {
    if (word.startsWith('boot=')) boot = word.slice('boot='.length)
    else if (word.startsWith('pxeroot.rbd=')) spec = word.slice('pxeroot.rbd='.length)
    else if (word.startsWith('pxeroot.rbd_user=')) user = word.slice('pxeroot.rbd_user='.length)
  }
  if (boot !== 'rbd') return undefined
  const parts = (spec ?? '').split('/')
  if (parts.length !== 4) return {name: spec ?? '', monitors: [], user}
  const [mons, pool, namespace, image] = parts
  return {name: [pool, namespace, image].filter(Boolean).join('/'), monitors: mons.split(',').filter(Boolean), user}
}
