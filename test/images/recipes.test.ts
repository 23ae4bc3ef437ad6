import {describe, expect, it} from 'vitest'

import {parseSite} from '../../src/config/site-file.js'
import {UserError} from '../../src/errors.js'
import {aptFullUpgrade, aptInstall, aptUpdate} from '../../src/images/apt.js'
import {debootstrapArgs, debootstrapCommand} from '../../src/images/debootstrap.js'
import {parseDeb822Sources, parseSourcesList, pickDebianMirror} from '../../src/images/host-mirror.js'
import {compareKernelVersions} from '../../src/images/initramfs.js'
import {meaningfulChanges} from '../../src/images/change.js'
import {renderSourcesList, resolveRecipe} from '../../src/images/recipes.js'

const base = 'server: 10.77.0.1\nsubnet: 10.77.0.0/24\nnodes:\n  range: 10.77.0.100-10.77.0.150\n'
const site = parseSite(base)

describe('built-in recipes', () => {
  it('ubuntu-jammy bootstraps from the Ubuntu archive with main+universe, its keyring and linux-image-generic', () => {
    const r = resolveRecipe(site, 'ubuntu-jammy')
    expect(debootstrapArgs(r, '/t', {cacheDir: '/c'})).toEqual([
      '--variant=minbase', '--arch=amd64', '--components=main,universe',
      '--keyring=/usr/share/keyrings/ubuntu-archive-keyring.gpg', '--include=systemd-sysv', '--cache-dir=/c',
      'jammy', '/t', 'http://archive.ubuntu.com/ubuntu',
    ])
    expect(r.packages[0]).toBe('linux-image-generic')
    expect(r.packages).toEqual(expect.arrayContaining(['initramfs-tools', 'nfs-common', 'openssh-server', 'zstd']))
    expect(renderSourcesList(r)).toContain('deb http://security.ubuntu.com/ubuntu jammy-security main universe')
  })

  it('ubuntu-noble: debootstrap runs in a private mount+PID namespace that dies with it', () => {
    const cmd = debootstrapCommand(resolveRecipe(site, 'ubuntu-noble'), '/t')
    expect(cmd.command).toBe('unshare')
    expect(cmd.args.slice(0, 8)).toEqual(['--mount', '--pid', '--fork', '--propagation', 'private', '--kill-child', '--', 'debootstrap'])
    expect(cmd.args.slice(-3)).toEqual(['noble', '/t', 'http://archive.ubuntu.com/ubuntu'])
    expect(cmd.env.INITRD).toBe('No')
  })

  it('apt runs noninteractive with the documented conffile policy and the kernel first', () => {
    expect(aptUpdate()).toEqual(['apt-get', '-q', '-o', 'Acquire::Retries=3', 'update'])
    expect(aptFullUpgrade()).toEqual(expect.arrayContaining(['-y', 'Dpkg::Options::=--force-confdef', 'Dpkg::Options::=--force-confold', 'full-upgrade']))
    const install = aptInstall(resolveRecipe(site, 'ubuntu-noble').packages)
    expect(install.slice(install.indexOf('install') + 1)[0]).toBe('linux-image-generic')
  })

  it('Debian recipes take the host mirror, a recipe mirror wins over it and --mirror over both', () => {
    const host = {mirror: 'http://mirror.example/debian', securityMirror: 'http://mirror.example/debian-security'}
    expect(resolveRecipe(site, 'debian-trixie', {hostMirror: host}).mirror).toBe('http://mirror.example/debian')
    expect(resolveRecipe(site, 'ubuntu-noble', {hostMirror: host}).mirror).toBe('http://archive.ubuntu.com/ubuntu')
    expect(resolveRecipe(site, 'debian-bookworm', {hostMirror: host, mirror: 'http://other/debian/'}).mirror).toBe('http://other/debian')
  })

  it('rejects an unknown recipe and a bad --packages entry, naming the fix', () => {
    expect(() => resolveRecipe(site, 'centos-9')).toThrow(/unknown recipe "centos-9"; use one of debian-bookworm/)
    expect(() => resolveRecipe(site, 'debian-bookworm', {packages: ['vim;rm']})).toThrow(UserError)
  })
})

describe('site recipes', () => {
  const custom = parseSite(`${base}recipes:\n  lab:\n    extends: debian-bookworm\n    packages: [vim]\n    components: [contrib]\n    mirror: http://local/debian\n    postInstall:\n      - [systemctl, enable, ssh]\n    initramfsModules: [e1000, nfsv3]\n`)

  it('extend a built-in with packages, components, mirror, post-install argv and an initramfs module list', () => {
    const r = resolveRecipe(custom, 'lab', {hostMirror: {mirror: 'http://host/debian'}, packages: ['htop']})
    expect(r).toMatchObject({name: 'lab', base: 'debian-bookworm', suite: 'bookworm', mirror: 'http://local/debian', components: ['main', 'contrib'], postInstall: [['systemctl', 'enable', 'ssh']], initramfsModules: ['e1000', 'nfsv3']})
    expect(r.packages).toEqual(expect.arrayContaining(['linux-image-amd64', 'vim', 'htop']))
  })

  it('a recipe extending something unknown is a site-file error naming the field', () => {
    expect(() => parseSite(`${base}recipes:\n  lab:\n    extends: arch\n`)).toThrow(/recipes\.lab\.extends: must be one of debian-bookworm/)
    expect(() => parseSite(`${base}recipes:\n  lab:\n    extends: debian-bookworm\n    postInstall: ["echo hi"]\n`)).toThrow(/recipes\.lab\.postInstall\.0/)
  })
})

describe('host apt sources', () => {
  it('finds the Debian mirror in deb822 and one-line sources, skipping security and third-party archives', () => {
    const deb822 = parseDeb822Sources('Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\nComponents: main\n\nTypes: deb\nURIs: http://deb.debian.org/debian-security\nSuites: bookworm-security\nComponents: main\n\nTypes: deb\nURIs: https://deb.nodesource.com/node_20.x\nSuites: nodistro\nEnabled: no\n')
    const list = parseSourcesList('# comment\ndeb [arch=amd64] https://packages.example.com/apt stable main\ndeb-src http://ftp.de.debian.org/debian bookworm main\n')
    expect(pickDebianMirror([...list, ...deb822], 'bookworm')).toEqual({mirror: 'http://deb.debian.org/debian', securityMirror: 'http://deb.debian.org/debian-security'})
    expect(pickDebianMirror([...list, ...deb822], 'trixie')?.mirror).toBe('http://deb.debian.org/debian')
    expect(pickDebianMirror(list, 'bookworm')).toBeUndefined()
  })
})

describe('small pure helpers', () => {
  it('orders kernel releases numerically', () => {
    expect(['6.1.0-9-amd64', '6.1.0-25-amd64', '6.1.0-10-amd64'].sort(compareKernelVersions).reverse()[0]).toBe('6.1.0-25-amd64')
  })

  it('ignores directories whose mtime alone changed when deciding whether exec changed an image', () => {
    expect(meaningfulChanges('.d..t...... etc/\n.d..t...... usr/sbin/\n')).toEqual([])
    expect(meaningfulChanges('.d..t...... etc/\n>f.st...... etc/motd\n')).toEqual(['>f.st...... etc/motd'])
  })
})
