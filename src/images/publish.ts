import {promises as fs} from 'node:fs'
import path from 'node:path'

import {type Context} from '../system/context.js'
import {type SiteModel} from '../config/site.js'
import {PreconditionError} from '../errors.js'
import {bootstrapComplete} from './debootstrap.js'
import {kernelFiles, newestKernel} from './initramfs.js'
import {installedPackages, type Manifest, treeBytes} from './manifest.js'
import {removeIdentity} from './nfsroot.js'
import {type StorageBackend} from '../storage/backend.js'
import {promote, publishBootFiles, reserveRevision, type Staging} from './store.js'

/** Checks a finished tree holds none of the build's scaffolding before it may become a revision. */
export async function assertPublishable(rootfs: string): Promise<void> {
  const problems: string[] = []
  if (!(await bootstrapComplete(rootfs))) problems.push('debootstrap/ is still present (an incomplete bootstrap)')
  if (await fs.lstat(path.join(rootfs, 'usr/sbin/policy-rc.d')).catch(() => undefined)) problems.push('usr/sbin/policy-rc.d is still present')
  const machineId = await fs.stat(path.join(rootfs, 'etc/machine-id')).catch(() => undefined)
  if (!machineId || machineId.size !== 0) problems.push('etc/machine-id is not an empty file')
  if (problems.length > 0) throw new PreconditionError(`refusing to publish: ${problems.join('; ')}`)
}

export type RevisionFacts = Pick<Manifest, 'origin' | 'recipe' | 'parent' | 'command'>

/** Identity scrub, checks, boot files, manifest, promotion: the common end of build, update, exec and shell. */
export async function publishRevision(ctx: Context, site: SiteModel, storage: StorageBackend, staging: Staging, facts: RevisionFacts, started: number, version: string): Promise<Manifest> {
  await removeIdentity(ctx.files, staging.work)
  await assertPublishable(staging.work)
  const kernel = await newestKernel(staging.work)
  const files = kernelFiles(staging.work, kernel)
  if (!(await fs.stat(files.initrd).catch(() => undefined))) throw new PreconditionError(`refusing to publish: no /boot/initrd.img-${kernel}`)
  const packages = await installedPackages(ctx.runner, staging.work)
  const revision = await reserveRevision(ctx, site, staging.image)
  const ref = {image: staging.image, revision}
  const boot = await publishBootFiles(ctx, site, ref, files.kernel, files.initrd)
  const manifest: Omit<Manifest, 'storage'> = {
    format: 1,
    image: staging.image,
    revision,
    ...(facts.parent === undefined ? {} : {parent: facts.parent}),
    origin: facts.origin,
    ...(facts.command ? {command: facts.command} : {}),
    recipe: facts.recipe,
    suite: facts.recipe.suite,
    mirror: facts.recipe.mirror,
    kernel,
    packages,
    sizes: {rootfsBytes: await treeBytes(ctx.runner, staging.work), ...boot},
    builtAt: new Date().toISOString(),
    buildSeconds: Math.round((Date.now() - started) / 1000),
    pxerootVersion: version,
  }
  return promote(ctx, site, storage, staging, manifest)
}
