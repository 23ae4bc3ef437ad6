import {constants, promises as fs} from 'node:fs'
import path from 'node:path'

import {BOOT_REPORT_FILE, type BootReport, parseBootReport} from '../images/boot-report.js'
import {checkParents} from '../system/files.js'
import {type Root} from '../system/paths.js'

/**
 * What a node last reported about its boot (images/boot-report.ts), read from its root on the
 * server's disk: undefined when its root holds no report (never booted since it was cloned or
 * rebased, or an image from before the report). The node is root in its own tree, so no link in
 * it is followed: a report that is a symlink, or under one, is no report. The one place that
 * knows where a node's root is read from: when roots move behind a storage seam (RBD), this is
 * what follows them.
 */
export async function readBootReport(root: Root, node: {name: string, rootPath: string}): Promise<BootReport | undefined> {
  const dir = root.resolve(node.rootPath)
  const file = path.join(dir, BOOT_REPORT_FILE)
  try {
    await checkParents(dir, file, false)
    const handle = await fs.open(file, constants.O_RDONLY | constants.O_NOFOLLOW)
    try {
      const {bytesRead, buffer} = await handle.read({buffer: Buffer.alloc(4096)})
      return parseBootReport(buffer.subarray(0, bytesRead).toString('utf8'))
    } finally {
      await handle.close()
    }
  } catch {
    return undefined
  }
}
