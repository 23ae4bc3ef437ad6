/**
 * GNU tar argv for revision archives. GNU tar, not the tar npm package, because a root filesystem
 * needs device nodes, FIFOs, xattrs (file capabilities such as ping's cap_net_raw), ACLs and
 * numeric ownership, none of which node-tar round-trips. Pure: argv arrays only.
 */

/** What every read and write of a revision archive keeps. */
const METADATA = ['--xattrs', '--xattrs-include=*', '--acls', '--numeric-owner'] as const

export const MANIFEST_MEMBER = 'manifest.json'
export const ROOTFS_MEMBER = 'rootfs'

/** manifest.json first (so it can be read without unpacking the tree), then rootfs/: the one in
 * `treeParent` (the revision's directory, or where the storage backend shows the tree). */
export function createArgs(archive: string, revisionDir: string, treeParent = revisionDir): string[] {
  return [
    '--create', '--file', archive, '--zstd', '--format=posix',
    // atime/ctime in every pax header only grow the archive and make it differ run to run.
    '--pax-option=delete=atime,delete=ctime', '--sort=name',
    ...METADATA,
    '--directory', revisionDir, MANIFEST_MEMBER, '--directory', treeParent, ROOTFS_MEMBER,
  ]
}

/** Member names as stored (leading "/" or ".." are shown, not stripped), one per line. */
export function listArgs(archive: string): string[] {
  return ['--list', '--file', archive, '--zstd', '--quoting-style=escape']
}

/** The first manifest.json member to stdout; tar stops reading after it. */
export function readManifestArgs(archive: string): string[] {
  return ['--extract', '--file', archive, '--zstd', '--to-stdout', '--occurrence=1', MANIFEST_MEMBER]
}

/**
 * Unpacks the archive's rootfs/ as `<stagingDir>/<workName>/` (an existing directory or btrfs
 * subvolume, which takes the archive's mode, owner and xattrs of the tree's top). The rename
 * applies to member names and hard-link targets, never to symlink targets (flag S).
 */
export function extractRootfsArgs(archive: string, stagingDir: string, workName: string): string[] {
  return [
    '--extract', '--file', archive, '--zstd', '--directory', stagingDir,
    '--preserve-permissions', '--same-owner', ...METADATA,
    `--transform=s,^${ROOTFS_MEMBER}\\(/\\|$\\),${workName}\\1,S`,
    ROOTFS_MEMBER,
  ]
}
