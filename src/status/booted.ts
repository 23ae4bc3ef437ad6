import {constants, promises as fs} from 'node:fs'
import path from 'node:path'

import {BOOT_REPORT_FILE, type BootReport, parseBootReport} from '../images/boot-report.js'
import {type StorageBackend} from '../storage/backend.js'
import {checkParents} from '../system/files.js'

/**
 * What a node last reported about its boot (images/boot-report.ts), read from its root through
 * the storage seam, read-only (on RBD a private copy-on-write view of what the node has synced):
 * undefined when its root holds no report (never booted since it was cloned or rebased, or an
 * image from before the report). The node is root in its own tree, so no link in it is followed:
 * a report that is a symlink, or under one, is no report.
 */
export async function readBootReport(storage: Pick<StorageBackend, 'openRoot'>, node: string): Promise<BootReport | undefined> {
  let root
  try {
    root = await storage.openRoot(node, {write: false})
  } catch {
    return undefined
  }
  try {
    const file = path.join(root.dir, BOOT_REPORT_FILE)
    await checkParents(root.dir, file, false)
    const handle = await fs.open(file, constants.O_RDONLY | constants.O_NOFOLLOW)
    try {
      const {bytesRead, buffer} = await handle.read({buffer: Buffer.alloc(4096)})
      return parseBootReport(buffer.subarray(0, bytesRead).toString('utf8'))
    } finally {
      await handle.close()
    }
  } catch {
    return undefined
  } finally {
    await root.close()
  }
}
