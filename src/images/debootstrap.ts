import {promises as fs} from 'node:fs'
import path from 'node:path'

import {PreconditionError} from '../errors.js'
import {CHROOT_ENV, namespaceArgs} from '../system/chroot.js'
import {type Recipe} from './recipes.js'

/** debootstrap's argv for a recipe; pure (unit-tested for every built-in). */
export function debootstrapArgs(recipe: Recipe, target: string, options: {cacheDir?: string, arch?: string} = {}): string[] {
  return [
    '--variant=minbase',
    `--arch=${options.arch ?? 'amd64'}`,
    `--components=${recipe.components.join(',')}`,
    `--keyring=${recipe.keyring}`,
    `--include=${recipe.bootstrapPackages.join(',')}`,
    ...(options.cacheDir ? [`--cache-dir=${options.cacheDir}`] : []),
    recipe.suite,
    target,
    recipe.mirror,
  ]
}

/** The unshare argv that runs debootstrap in a private mount/PID namespace: its /proc and /sys mounts die with it. */
export function debootstrapCommand(recipe: Recipe, target: string, options: {cacheDir?: string, arch?: string} = {}): {command: string, args: string[], env: Record<string, string>} {
  return {command: 'unshare', args: namespaceArgs(['debootstrap', ...debootstrapArgs(recipe, target, options)]), env: CHROOT_ENV}
}

export async function checkKeyring(recipe: Recipe): Promise<void> {
  if (!(await fs.stat(recipe.keyring).catch(() => undefined))) {
    throw new PreconditionError(`the ${recipe.distro} archive keyring ${recipe.keyring} is missing`, `apt-get install ${recipe.distro === 'ubuntu' ? 'ubuntu-keyring' : 'debian-archive-keyring'}`)
  }
  const script = path.join('/usr/share/debootstrap/scripts', recipe.suite)
  if (!(await fs.stat(script).catch(() => undefined))) {
    throw new PreconditionError(`this debootstrap does not know ${recipe.suite} (${script} missing)`, 'install a newer debootstrap')
  }
}

/** A bootstrap that stopped half-way keeps its debootstrap/ directory; such a tree is never used. */
export async function bootstrapComplete(target: string): Promise<boolean> {
  return !(await fs.stat(path.join(target, 'debootstrap')).catch(() => undefined))
}
