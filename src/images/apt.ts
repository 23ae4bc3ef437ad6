/**
 * apt invocations inside an image. Configuration files follow --force-confdef --force-confold:
 * a conffile the image never changed takes the package's new version, one pxeroot or the admin
 * changed is kept as is (the new version lands next to it as *.dpkg-dist) and nothing prompts.
 */
export const APT_OPTIONS = [
  '-y', '-q',
  '-o', 'Dpkg::Options::=--force-confdef',
  '-o', 'Dpkg::Options::=--force-confold',
  '-o', 'Acquire::Retries=3',
]

export const aptUpdate = (): string[] => ['apt-get', '-q', '-o', 'Acquire::Retries=3', 'update']
export const aptFullUpgrade = (): string[] => ['apt-get', ...APT_OPTIONS, 'full-upgrade']
/** Build-time installs skip Recommends: a smaller image; the recipe names what it needs. */
export const aptInstall = (packages: readonly string[]): string[] => ['apt-get', ...APT_OPTIONS, '--no-install-recommends', 'install', ...packages]
export const aptClean = (): string[] => ['apt-get', 'clean']
