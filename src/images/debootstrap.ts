import {promises as fs} from 'node:fs'
import path from 'node:path'

import {PreconditionError, UserError} from '../errors.js'
import {CHROOT_ENV, namespaceArgs} from '../system/chroot.js'
import {exists} from '../system/files.js'
import {type Recipe} from './recipes.js'

/** Where debootstrap keeps one script per suite it knows. */
export const DEBOOTSTRAP_SCRIPTS = '/usr/share/debootstrap/scripts'

export interface DebootstrapOptions {
  cacheDir?: string
  arch?: string
  /** A script to use instead of the suite's own (see bootstrapScript). */
  script?: string
}

/** debootstrap's argv for a recipe; pure (unit-tested for every built-in). */
export function debootstrapArgs(recipe: Recipe, target: string, options: DebootstrapOptions = {}): string[] {
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
    // debootstrap SUITE TARGET MIRROR SCRIPT
    ...(options.script ? [options.script] : []),
  ]
}

/** The unshare argv that runs debootstrap in a private mount/PID namespace: its /proc and /sys mounts die with it. */
export function debootstrapCommand(recipe: Recipe, target: string, options: DebootstrapOptions = {}): {command: string, args: string[], env: Record<string, string>} {
  return {command: 'unshare', args: namespaceArgs(['debootstrap', ...debootstrapArgs(recipe, target, options)]), env: CHROOT_ENV}
}

/** Where to get a distribution's archive keyring when the host has none. */
const KEYRING_HELP: Record<Recipe['distro'], string> = {
  debian: 'apt-get install debian-archive-keyring',
  ubuntu: 'Debian has no ubuntu-keyring package: download ubuntu-keyring_*_all.deb from http://archive.ubuntu.com/ubuntu/pool/main/u/ubuntu-keyring/, '
    + 'take usr/share/keyrings/ubuntu-archive-keyring.gpg out of it (dpkg-deb -x FILE.deb DIR) and pass it with --keyring FILE or a recipe\'s keyring: setting',
}

/**
 * The keyring debootstrap verifies the archive with: the distribution's (missing: a host
 * precondition, with where to get it), or one given by --keyring or a site recipe (missing,
 * empty or ASCII-armored: bad input, naming where it was given; gpgv reads binary keyrings only).
 */
export async function checkKeyring(recipe: Recipe): Promise<void> {
  const stat = await fs.stat(recipe.keyring).catch(() => undefined)
  if (!recipe.keyringFrom) {
    if (!stat?.isFile()) throw new PreconditionError(`the ${recipe.distro} archive keyring ${recipe.keyring} is missing`, KEYRING_HELP[recipe.distro])
    return
  }
  const given = `${recipe.keyringFrom}: ${recipe.keyring}`
  if (!stat) throw new UserError(`${given} does not exist`, KEYRING_HELP[recipe.distro])
  if (!stat.isFile()) throw new UserError(`${given} is not a file`)
  if (stat.size === 0) throw new UserError(`${given} is empty`, KEYRING_HELP[recipe.distro])
  // Keyrings are small: the whole file is a few kilobytes.
  if ((await fs.readFile(recipe.keyring)).subarray(0, 64).toString('latin1').startsWith('-----BEGIN PGP')) {
    throw new UserError(`${given} is an ASCII-armored key; debootstrap needs a binary keyring`, `convert it: gpg --dearmor < ${recipe.keyring} > ${recipe.keyring.replace(/\.(asc|gpg)$/, '')}.gpg`)
  }
}

/** The family whose script serves a suite a debootstrap does not know yet: Ubuntu suites share gutsy's, Debian ones sid's. */
const FAMILY_SCRIPT: Record<Recipe['distro'], string> = {debian: 'sid', ubuntu: 'gutsy'}

/**
 * The script to hand debootstrap: none when it knows the suite, else its family's (Debian 12's
 * debootstrap has no "noble", whose own script is a link to gutsy anyway).
 */
export async function bootstrapScript(recipe: Recipe, scripts = DEBOOTSTRAP_SCRIPTS): Promise<string | undefined> {
  if (await exists(path.join(scripts, recipe.suite))) return undefined
  const family = path.join(scripts, FAMILY_SCRIPT[recipe.distro])
  if (await exists(family)) return family
  throw new PreconditionError(`this debootstrap has no script for ${recipe.suite} nor for its family (${FAMILY_SCRIPT[recipe.distro]}) in ${scripts}`, 'install a newer debootstrap')
}

/** A bootstrap that stopped half-way keeps its debootstrap/ directory; such a tree is never used. */
export async function bootstrapComplete(target: string): Promise<boolean> {
  return !(await fs.stat(path.join(target, 'debootstrap')).catch(() => undefined))
}
