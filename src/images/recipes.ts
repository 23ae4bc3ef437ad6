import {BUILTIN_RECIPES, type SiteModel} from '../config/site.js'
import {UserError} from '../errors.js'

export type BuiltinName = typeof BUILTIN_RECIPES[number]

/** Everything a build needs to know about what goes into an image; recorded in the manifest. */
export interface Recipe {
  /** The recipe's own name (a built-in's, or the site recipe's key). */
  name: string
  base: BuiltinName
  distro: 'debian' | 'ubuntu'
  suite: string
  mirror: string
  /** Where the security suite lives; Debian and Ubuntu publish it apart from the main archive. */
  securityMirror: string
  components: string[]
  keyring: string
  /** Where a keyring other than the distribution's was given (--keyring, recipes.NAME.keyring); absent for the built-in one. */
  keyringFrom?: string
  kernelPackage: string
  /** Installed by debootstrap: the smallest set that gives a working chroot. */
  bootstrapPackages: string[]
  /** Installed by apt once the full sources (updates, security) are configured, so the image starts up to date. */
  packages: string[]
  postInstall: string[][]
  /** MODULES=list with these modules; undefined means MODULES=netboot. */
  initramfsModules?: string[]
}

/**
 * Packages every image gets on top of the kernel: what an NFS-root node needs to boot and be
 * reached, and dbus: systemd-logind needs it, and logind is what turns the ACPI power button (a
 * BMC's graceful power-off: IPMI "soft", Redfish GracefulShutdown) into a clean shutdown; a
 * minbase system without it ignores the button until the power is cut.
 */
const COMMON = ['initramfs-tools', 'zstd', 'nfs-common', 'openssh-server', 'iproute2', 'iputils-ping', 'ca-certificates', 'dbus']

const DEBIAN = {
  distro: 'debian' as const,
  mirror: 'http://deb.debian.org/debian',
  securityMirror: 'http://deb.debian.org/debian-security',
  components: ['main'],
  keyring: '/usr/share/keyrings/debian-archive-keyring.gpg',
  kernelPackage: 'linux-image-amd64',
}

const UBUNTU = {
  distro: 'ubuntu' as const,
  mirror: 'http://archive.ubuntu.com/ubuntu',
  securityMirror: 'http://security.ubuntu.com/ubuntu',
  // linux-image-generic and much of a usable server live in universe/main split: Ubuntu needs both.
  components: ['main', 'universe'],
  keyring: '/usr/share/keyrings/ubuntu-archive-keyring.gpg',
  kernelPackage: 'linux-image-generic',
}

const BUILTINS: Record<BuiltinName, Omit<Recipe, 'name' | 'base' | 'postInstall' | 'packages'>> = {
  'debian-bookworm': {...DEBIAN, suite: 'bookworm', bootstrapPackages: ['systemd-sysv']},
  'debian-trixie': {...DEBIAN, suite: 'trixie', bootstrapPackages: ['systemd-sysv']},
  'ubuntu-jammy': {...UBUNTU, suite: 'jammy', bootstrapPackages: ['systemd-sysv']},
  'ubuntu-noble': {...UBUNTU, suite: 'noble', bootstrapPackages: ['systemd-sysv']},
}

export function isBuiltin(name: string): name is BuiltinName {
  return (BUILTIN_RECIPES as readonly string[]).includes(name)
}

export interface RecipeOverrides {
  /** --mirror: wins over the recipe's and the host's. */
  mirror?: string
  /** --packages a,b */
  packages?: string[]
  /** --keyring FILE: wins over the recipe's. */
  keyring?: string
  /** The host's Debian mirror, used by Debian recipes when nothing else names one. */
  hostMirror?: {mirror: string, securityMirror?: string}
}

const uniq = (xs: string[]) => [...new Set(xs)]

/** Resolves a recipe name (built-in or from the site's `recipes`) plus per-build overrides; pure. */
export function resolveRecipe(site: SiteModel, name: string, overrides: RecipeOverrides = {}): Recipe {
  const custom = site.recipes[name]
  const baseName = custom ? custom.extends : name
  if (!isBuiltin(baseName)) {
    const known = [...BUILTIN_RECIPES, ...Object.keys(site.recipes)].join(', ')
    throw new UserError(`unknown recipe "${name}"; use one of ${known} or add it under "recipes:" in the site file`)
  }
  const base = BUILTINS[baseName]
  let mirror = base.mirror
  let securityMirror = base.securityMirror
  if (base.distro === 'debian' && overrides.hostMirror) {
    mirror = overrides.hostMirror.mirror
    securityMirror = overrides.hostMirror.securityMirror ?? securityMirror
  }
  if (custom?.mirror) mirror = custom.mirror
  if (overrides.mirror) mirror = overrides.mirror
  for (const p of overrides.packages ?? []) {
    if (!/^[a-z0-9][a-z0-9+.-]+$/.test(p)) throw new UserError(`--packages: "${p}" is not a Debian package name; give a comma-separated list such as vim,htop`)
  }
  const keyringFrom = overrides.keyring ? '--keyring' : custom?.keyring ? `recipes.${name}.keyring` : undefined
  return {
    ...base,
    ...(keyringFrom ? {keyring: overrides.keyring ?? custom!.keyring!, keyringFrom} : {}),
    name,
    base: baseName,
    mirror: mirror.replace(/\/+$/, ''),
    securityMirror: securityMirror.replace(/\/+$/, ''),
    components: uniq([...base.components, ...(custom?.components ?? [])]),
    packages: uniq([base.kernelPackage, ...COMMON, ...(custom?.packages ?? []), ...(overrides.packages ?? [])]),
    postInstall: custom?.postInstall ?? [],
    initramfsModules: custom?.initramfsModules,
  }
}

/** The image's own /etc/apt/sources.list: the release, its updates and its security suite. */
export function renderSourcesList(recipe: Recipe): string {
  const comps = recipe.components.join(' ')
  return [
    '# Written by pxeroot image build; "pxeroot image update" upgrades from these suites.',
    `deb ${recipe.mirror} ${recipe.suite} ${comps}`,
    `deb ${recipe.mirror} ${recipe.suite}-updates ${comps}`,
    `deb ${recipe.securityMirror} ${recipe.suite}-security ${comps}`,
    '',
  ].join('\n')
}
