import {Args} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {showRevision} from '../../services/image-show.js'

export default class ImageShow extends BaseCommand {
  static aliases = ['images:show']
  static description = 'Show a revision\'s manifest: recipe, mirror, kernel, sizes, packages, the nodes using it, and whether its kernel and modules pass Secure Boot'
  static args = {revision: Args.string({description: 'NAME@N, or NAME for its current revision', required: true})}

  public async run(): Promise<unknown> {
    const {args, flags} = await this.parse(ImageShow)
    const m = await showRevision(this.makeContext(flags.root), args.revision)
    if (!this.jsonEnabled()) {
      this.log(`${m.image}@${m.revision}${m.current ? ' (current)' : ''}`)
      this.log(`  origin:   ${m.origin}${m.parent ? ` of ${m.image}@${m.parent}` : ''}${m.command ? ` (${m.command.join(' ')})` : ''}`)
      this.log(`  recipe:   ${m.recipe.name} (${m.suite}, ${m.mirror})`)
      this.log(`  kernel:   ${m.kernel}`)
      this.log(`  packages: ${m.packages.length}`)
      this.log(`  size:     ${Math.round(m.sizes.rootfsBytes / 1024 / 1024)} MiB root, kernel ${m.sizes.kernelBytes} B, initrd ${m.sizes.initrdBytes} B`)
      this.log(`  built:    ${m.builtAt} in ${m.buildSeconds} s by pxeroot ${m.pxerootVersion}`)
      this.log(`  nodes:    ${m.nodes.length > 0 ? m.nodes.join(', ') : 'none'}`)
      this.log(`  secure boot: kernel ${m.secureBoot.kernel.status}: ${m.secureBoot.kernel.message}`)
      this.log(`               modules ${m.secureBoot.modules.status}: ${m.secureBoot.modules.message}`)
    }
    return m
  }
}
