import {loadSite} from '../config/site-file.js'
import {PreconditionError, UserError} from '../errors.js'
import {currentRevision, formatRevisionRef, parseRevisionRef} from '../images/layout.js'
import {deleteRevision, revisionUsers, withImageAndSiteLocks} from '../images/revisions.js'
import {listRevisions} from '../images/store.js'
import {withStorage} from '../storage/registry.js'
import {type Context} from '../system/context.js'

/** `image rm NAME@N`: deletes one revision that is not current and that no node uses. */
export async function removeRevision(ctx: Context, text: string): Promise<string> {
  const ref = parseRevisionRef(text)
  if (!ref) throw new UserError(`REVISION: "${text}" is not a revision; write it as NAME@N, e.g. lab@2`)
  const site = await loadSite(ctx.root)
  return withImageAndSiteLocks(ctx, ref.image, () => withStorage(ctx, site, async (storage) => {
    const name = formatRevisionRef(ref)
    if (!(await listRevisions(ctx.root, site, ref.image)).includes(ref.revision)) throw new UserError(`${name} does not exist; see "pxeroot image list"`)
    const users = (await revisionUsers(ctx)).get(name) ?? []
    if (users.length > 0) throw new PreconditionError(`${name} is used by ${users.join(', ')}; refusing to remove it`, 're-clone those nodes from another revision first')
    if ((await currentRevision(ctx.root, site, ref.image))?.revision === ref.revision) {
      throw new PreconditionError(`${name} is the current revision of ${ref.image}; refusing to remove it`, `roll back first: pxeroot image rollback ${ref.image}`)
    }
    const dependents = await storage.revisionDependents(ref)
    if (dependents.length > 0) {
      throw new PreconditionError(`${name} still has clones: ${dependents.join(', ')}; refusing to remove it`, 'rebase those nodes to another revision and prune their previous roots ("pxeroot nodes prune") first')
    }
    await deleteRevision(ctx, site, storage, ref)
    return name
  }))
}
