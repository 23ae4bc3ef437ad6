import YAML from 'yaml'

import {type SiteInput} from './site.js'

/**
 * The site file's text with its `storage:` section set to `storage` (pure). A file that has none
 * gets the section appended, every other line left as it was; one that has it gets it replaced
 * (the yaml library keeps the other settings and their comments).
 */
export function withStorageSection(text: string, storage: NonNullable<SiteInput['storage']>): string {
  const doc = YAML.parseDocument(text)
  if (!doc.has('storage')) {
    const block = new YAML.Document({storage}).toString()
    return `${text.replace(/\n*$/, '\n')}# Where image revisions and node roots live (see README "Storage on Ceph RBD").\n${block}`
  }
  doc.set('storage', doc.createNode(storage))
  return doc.toString()
}
