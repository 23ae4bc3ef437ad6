/**
 * The kernel command line of a node whose root is its own RBD clone, mapped by the node's kernel
 * in its initramfs. The contract with the image's boot script (`boot=rbd`, the initramfs-tools
 * script that parses these words):
 *
 *   boot=rbd pxeroot.rbd=MONS/POOL/NAMESPACE/IMAGE pxeroot.rbd_user=NAME pxeroot.rbd_key=SECRET ip=dhcp rw
 *
 * MONS are the monitors' ADDR:PORT (msgr v1, port 6789), comma-separated; NAMESPACE is the node's
 * RBD namespace and IMAGE its root image there; NAME is the node's cephx user without "client.";
 * SECRET that key's base64 secret. Pure.
 */
export interface RbdRootSpec {
  monitors: readonly string[]
  pool: string
  namespace: string
  image: string
  user: string
  /** Absent while the node has no key yet (no root): the word is left out and the boot script refuses. */
  secret?: string
}

export function rbdRootArgs(spec: RbdRootSpec): string {
  return [
    'boot=rbd',
    `pxeroot.rbd=${spec.monitors.join(',')}/${spec.pool}/${spec.namespace}/${spec.image}`,
    `pxeroot.rbd_user=${spec.user}`,
    ...(spec.secret ? [`pxeroot.rbd_key=${spec.secret}`] : []),
    'ip=dhcp',
    'rw',
  ].join(' ')
}
