import path from 'node:path'

import {type Context} from '../system/context.js'
import {loadSite} from '../config/site-file.js'
import {UserError} from '../errors.js'
import {withChrootSession} from '../system/chroot.js'
import {acquireLock} from '../system/lock.js'
import {aptClean, aptFullUpgrade, aptInstall, aptUpdate} from './apt.js'
import {bootstrapComplete, bootstrapScript, checkKeyring, debootstrapCommand} from './debootstrap.js'
import {hostDebianMirror} from './host-mirror.js'
import {buildInitrd, newestKernel} from './initramfs.js'
import {type RevisionRef} from './layout.js'
import {type Manifest} from './manifest.js'
import {configureNfsRoot} from './nfsroot.js'
import {configureRbdRoot} from './rbdroot.js'
import {runSteps} from './progress.js'
import {publishRevision} from './publish.js'
import {renderSourcesList, resolveRecipe, type Recipe} from './recipes.js'
import {withNetworkRetry} from './retry.js'
import {checkSpace} from '../storage/space.js'
import {imageLockFile, removeStale, type Staging} from './store.js'
import {withStorage} from '../storage/registry.js'
import {IMAGE_NAME} from '../config/names.js'


export interface BuildRequest {
  recipe: string
  name?: string
  mirror?: string
  packages?: string[]
  /** --keyring FILE: the archive keyring, a file on this machine. */
  keyring?: string
  /** pxeroot's version, recorded in the manifest. */
  version: string
}

export interface BuildResult {
  ref: RevisionRef
  manifest: Manifest
}

export function checkImageName(name: string, flag = 'NAME'): void {
  if (!IMAGE_NAME.test(name)) throw new UserError(`${flag}: "${name}" is not an image name; use lowercase letters, digits, ".", "_" or "-"`)
}

export async function resolveBuildRecipe(site: Awaited<ReturnType<typeof loadSite>>, request: BuildRequest): Promise<Recipe> {
  if (request.mirror !== undefined && !/^(https?|file):\/\/\S+$/.test(request.mirror)) {
    throw new UserError(`--mirror: "${request.mirror}" is not a mirror URL; use http(s)://HOST/PATH such as http://deb.debian.org/debian`)
  }
  const plain = resolveRecipe(site, request.recipe, {packages: request.packages, keyring: request.keyring})
  const needsHost = plain.distro === 'debian' && !request.mirror && !site.recipes[request.recipe]?.mirror
  const hostMirror = needsHost ? await hostDebianMirror(plain.suite) : undefined
  return resolveRecipe(site, request.recipe, {mirror: request.mirror, packages: request.packages, keyring: request.keyring, hostMirror})
}

/** Steps in a chroot session that install the recipe's packages from fully configured sources. */
async function installPackages(ctx: Context, staging: Staging, recipe: Recipe, output: (l: string) => void): Promise<void> {
  await ctx.files.write(path.join(staging.work, 'etc/apt/sources.list'), renderSourcesList(recipe), {mode: 0o644, forceMode: true, within: staging.work})
  const opts = {timeout: 40 * 60_000, cancelSignal: ctx.signal, onLine: output}
  const retry = {signal: ctx.signal, log: ctx.log}
  await withChrootSession(ctx.runner, staging.work, async (session) => {
    await withNetworkRetry('apt-get update', () => session.run(aptUpdate(), opts), retry)
    await withNetworkRetry('apt-get full-upgrade', () => session.run(aptFullUpgrade(), opts), retry)
    await withNetworkRetry('apt-get install', () => session.run(aptInstall(recipe.packages), opts), retry)
    await session.run(aptClean(), opts)
  })
}

/**
 * Builds a new revision of an image from a recipe: debootstrap into a staging tree, packages and
 * NFS-root setup in a safe chroot, initrd, boot files, manifest, then one atomic promotion. Any
 * failure or kill before the promotion leaves the last good revision as it was.
 */
export async function buildImage(ctx: Context, request: BuildRequest): Promise<BuildResult> {
  const site = await loadSite(ctx.root)
  const name = request.name ?? request.recipe
  checkImageName(name, request.name ? '--name' : 'RECIPE')
  const recipe = await resolveBuildRecipe(site, request)
  await checkKeyring(recipe)
  const script = await bootstrapScript(recipe)
  const lock = await acquireLock(ctx.root.resolve(imageLockFile(name)), `image ${name}`)
  const started = Date.now()
  let staging: Staging | undefined
  let manifest: Manifest | undefined
  try {
    await withStorage(ctx, site, (storage) => runSteps(ctx, [
      {
        title: 'Check free space and clean up',
        run: async () => {
          const removed = await removeStale(ctx, site, storage, name)
          await checkSpace(ctx.root.resolve(site.paths.images), {bytes: site.images.minFreeMiB * 1024 * 1024, inodes: site.images.minFreeInodes}, site.paths.images)
          staging = await storage.createStaging(name)
          return removed.length > 0 ? `removed ${removed.length} stale item(s) of an earlier run` : undefined
        },
      },
      {
        title: `Bootstrap ${recipe.suite} from ${recipe.mirror}`,
        run: async (output) => {
          const s = staging!
          const cacheDir = site.images.debCache ? ctx.root.resolve(site.images.debCache) : undefined
          if (cacheDir) await ctx.files.mkdir(cacheDir)
          const cmd = debootstrapCommand(recipe, s.work, {cacheDir, script})
          await withNetworkRetry('debootstrap', () => ctx.runner.run(cmd.command, cmd.args, {env: cmd.env, timeout: 60 * 60_000, cancelSignal: ctx.signal, onLine: output}), {
            signal: ctx.signal,
            log: ctx.log,
            // debootstrap does not resume a half-written target: start from an empty one.
            beforeRetry: () => storage.resetWork(s),
          })
          if (!(await bootstrapComplete(staging!.work))) throw new UserError('debootstrap exited but left debootstrap/ behind: the bootstrap is incomplete')
        },
      },
      {
        title: 'Install the kernel and packages',
        run: async (output) => {
          await installPackages(ctx, staging!, recipe, output)
          return `${recipe.packages.length} requested`
        },
      },
      {
        title: 'Configure the network root (NFS, and RBD with boot=rbd)',
        run: async (output) => {
          await configureNfsRoot(ctx.files, staging!.work, recipe.initramfsModules)
          await configureRbdRoot(ctx.files, staging!.work)
          if (recipe.postInstall.length > 0) {
            await withChrootSession(ctx.runner, staging!.work, async (session) => {
              for (const argv of recipe.postInstall) await session.run(argv, {timeout: 30 * 60_000, cancelSignal: ctx.signal, onLine: output})
            })
          }
        },
      },
      {
        title: 'Build the initramfs',
        run: async (output) => {
          const kernel = await newestKernel(staging!.work)
          await withChrootSession(ctx.runner, staging!.work, (session) => buildInitrd({...session, run: (argv, o) => session.run(argv, {...o, onLine: output})}, staging!.work, kernel, ctx.signal))
          return kernel
        },
      },
      {
        title: 'Publish the revision',
        run: async () => {
          manifest = await publishRevision(ctx, site, storage, staging!, {origin: 'build', recipe}, started, request.version)
          staging = undefined
          return `${name}@${manifest.revision}`
        },
      },
    ]).finally(async () => {
      if (staging && !process.env.PXEROOT_KEEP_FAILED) await storage.discardStaging(staging).catch((error: Error) => ctx.log(`cleanup of ${staging!.dir} failed: ${error.message}`))
    }))
  } finally {
    await lock.release()
  }
  return {ref: {image: name, revision: manifest!.revision}, manifest: manifest!}
}
