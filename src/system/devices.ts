import {constants, promises as fs} from 'node:fs'

/** Whether /dev/kvm can be opened read-write (what qemu -accel kvm needs). Opens nothing else. */
export async function kvmUsable(): Promise<boolean> {
  try {
    await fs.access('/dev/kvm', constants.R_OK | constants.W_OK)
    const handle = await fs.open('/dev/kvm', 'r+')
    await handle.close()
    return true
  } catch {
    return false
  }
}
