import {BaseCommand} from '../cli/base-command.js'

export default class Version extends BaseCommand {
  static description = 'Print the pxeroot version'

  public async run(): Promise<{version: string}> {
    await this.parse(Version)
    this.log(this.config.version)
    return {version: this.config.version}
  }
}
