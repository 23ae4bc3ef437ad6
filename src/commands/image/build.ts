import path from 'node:path'

import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {buildImage} from '../../services/image-build.js'

export default class ImageBuild extends BaseCommand {
  static aliases = ['images:build']
  static description = 'Build a new revision of a golden image from a recipe (debootstrap, NFS-root setup, initrd, boot files)'

  static examples = [
    '<%= config.bin %> image build debian-bookworm',
    '<%= config.bin %> image build ubuntu-noble --keyring ./ubuntu-archive-keyring.gpg',
    '<%= config.bin %> image build debian-bookworm --name lab --mirror http://deb.debian.org/debian --packages vim,htop',
  ]

  static args = {
    recipe: Args.string({description: 'debian-bookworm, debian-trixie, ubuntu-jammy, ubuntu-noble, or a recipe from the site file', required: true}),
  }

  static flags = {
    name: Flags.string({description: 'image name (default: the recipe name)'}),
    mirror: Flags.string({description: 'archive mirror URL (default: the recipe\'s; Debian recipes use the host\'s own Debian mirror)'}),
    packages: Flags.string({description: 'extra packages, comma-separated'}),
    keyring: Flags.string({description: 'archive keyring file debootstrap verifies with (an Ubuntu recipe on a Debian host needs ubuntu-archive-keyring.gpg)'}),
  }

  public async run(): Promise<unknown> {
    const {args, flags} = await this.parse(ImageBuild)
    const ctx = this.makeContext(flags.root)
    const packages = flags.packages?.split(',').map((p) => p.trim()).filter(Boolean)
    const keyring = flags.keyring === undefined ? undefined : path.resolve(flags.keyring)
    const result = await buildImage(ctx, {recipe: args.recipe, name: flags.name, mirror: flags.mirror, packages, keyring, version: this.config.version})
    const m = result.manifest
    if (!this.jsonEnabled()) this.log(`${m.image}@${m.revision}: kernel ${m.kernel}, ${m.packages.length} packages, ${Math.round(m.sizes.rootfsBytes / 1024 / 1024)} MiB, built in ${m.buildSeconds} s`)
    return {image: m.image, revision: m.revision, ref: `${m.image}@${m.revision}`, kernel: m.kernel, packages: m.packages.length, sizes: m.sizes, buildSeconds: m.buildSeconds}
  }
}
