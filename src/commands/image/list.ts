import {BaseCommand} from '../../cli/base-command.js'
import {listImages} from '../../services/image-list.js'

const mib = (n: number) => `${Math.round(n / 1024 / 1024)} MiB`

export default class ImageList extends BaseCommand {
  static aliases = ['images:list']
  static description = 'List images and their revisions: current, size, kernel and the nodes using each'

  public async run(): Promise<unknown> {
    const {flags} = await this.parse(ImageList)
    const images = await listImages(this.makeContext(flags.root))
    if (!this.jsonEnabled()) {
      if (images.length === 0) this.log('no images yet; build one with "pxeroot image build debian-bookworm"')
      for (const image of images) {
        this.log(`${image.name} (current: ${image.current === undefined ? 'none' : `${image.name}@${image.current}`})`)
        for (const r of image.revisions) {
          this.log(`  ${r.current ? '*' : ' '} ${r.ref.padEnd(24)} ${mib(r.rootfsBytes).padStart(9)}  ${r.kernel.padEnd(18)} ${r.origin.padEnd(6)} ${r.builtAt.slice(0, 16)}  ${r.nodes.length > 0 ? `nodes: ${r.nodes.join(', ')}` : ''}`.trimEnd())
        }
      }
    }
    return {images}
  }
}
