/**
 * The other house rule of issue 8: src/system/ is the only code that spawns processes, mounts,
 * kills, or writes, renames and removes files. Everything else reads freely and runs programs
 * only through the Runner seam (system/runner.ts), and never asks a program to do one of those
 * side effects for it (rm, mv, cp, mount...): those go through system/'s named operations, so
 * each has one implementation with one policy (atomic, never through a mount point, bounded).
 */
import path from 'node:path'
import ts from 'typescript'
import {describe, expect, it} from 'vitest'

import {lineOf, sources, type SourceFile} from './source.js'

const FS_MODULES = new Set(['fs', 'node:fs', 'fs/promises', 'node:fs/promises', 'fs-extra'])
const SPAWN_MODULES = new Set(['child_process', 'node:child_process', 'execa'])

/** Node fs calls that change the filesystem. `open` is allowed read-only (see below). */
const FS_WRITES = new Set([
  'writeFile', 'writeFileSync', 'appendFile', 'appendFileSync', 'rename', 'renameSync', 'rm', 'rmSync', 'rmdir', 'rmdirSync',
  'unlink', 'unlinkSync', 'mkdir', 'mkdirSync', 'mkdtemp', 'mkdtempSync', 'copyFile', 'copyFileSync', 'cp', 'cpSync',
  'symlink', 'symlinkSync', 'link', 'linkSync', 'chmod', 'chmodSync', 'lchmod', 'chown', 'chownSync', 'lchown', 'lchownSync',
  'utimes', 'utimesSync', 'lutimes', 'lutimesSync', 'truncate', 'truncateSync', 'createWriteStream', 'write', 'writeSync',
  // fs-extra
  'outputFile', 'outputJson', 'writeJson', 'move', 'moveSync', 'copy', 'copySync', 'remove', 'removeSync', 'emptyDir',
  'ensureDir', 'ensureFile', 'ensureLink', 'ensureSymlink', 'mkdirp', 'mkdirs',
])

/** Programs whose job is one of system/'s side effects. Programs whose job is the work itself
 * (debootstrap, apt in a chroot, ssh-keygen, tar, the daemons' checkers) run through the Runner. */
const MUTATING_PROGRAMS = new Set(['mount', 'umount', 'rm', 'mv', 'cp', 'rsync', 'btrfs', 'ln', 'chmod', 'chown', 'mkdir', 'losetup', 'mkfs.btrfs', 'wipefs', 'kill', 'pkill'])

interface Finding {
  where: string
  what: string
}

function isReadOnlyOpen(call: ts.CallExpression): boolean {
  const flags = call.arguments[1]
  if (!flags) return true
  if (ts.isStringLiteral(flags)) return flags.text === 'r'
  return /O_RDONLY/.test(flags.getText()) && !/O_WRONLY|O_RDWR|O_CREAT|O_TRUNC|O_APPEND/.test(flags.getText())
}

function findings(file: SourceFile): Finding[] {
  const out: Finding[] = []
  const at = (node: ts.Node) => `src/${file.rel}:${lineOf(file, node)}`
  /** Local names bound to an fs module: namespaces/defaults ("fs", "fsSync") and named imports ("writeFile"). */
  const fsNamespaces = new Set<string>()
  const fsNamed = new Map<string, string>()
  for (const stmt of file.ast.statements) {
    if (!ts.isImportDeclaration(stmt) || !ts.isStringLiteral(stmt.moduleSpecifier)) continue
    const spec = stmt.moduleSpecifier.text
    if (SPAWN_MODULES.has(spec)) out.push({where: at(stmt), what: `imports ${spec}`})
    if (!FS_MODULES.has(spec) || !stmt.importClause || stmt.importClause.isTypeOnly) continue
    const clause = stmt.importClause
    if (clause.name) fsNamespaces.add(clause.name.text)
    const bindings = clause.namedBindings
    if (bindings && ts.isNamespaceImport(bindings)) fsNamespaces.add(bindings.name.text)
    if (bindings && ts.isNamedImports(bindings)) {
      for (const el of bindings.elements) {
        const imported = (el.propertyName ?? el.name).text
        if (imported === 'promises') fsNamespaces.add(el.name.text)
        else fsNamed.set(el.name.text, imported)
      }
    }
  }
  const visit = (node: ts.Node): void => {
    if (ts.isCallExpression(node)) {
      const callee = node.expression
      let fsCall: string | undefined
      if (ts.isPropertyAccessExpression(callee) && ts.isIdentifier(callee.expression) && fsNamespaces.has(callee.expression.text)) fsCall = callee.name.text
      if (ts.isIdentifier(callee) && fsNamed.has(callee.text)) fsCall = fsNamed.get(callee.text)
      if (fsCall && FS_WRITES.has(fsCall)) out.push({where: at(node), what: `fs.${fsCall}`})
      if (fsCall === 'open' && !isReadOnlyOpen(node)) out.push({where: at(node), what: 'fs.open for writing'})
      if (ts.isPropertyAccessExpression(callee) && callee.getText() === 'process.kill') out.push({where: at(node), what: 'process.kill'})
      const first = node.arguments[0]
      if (first && ts.isStringLiteral(first) && MUTATING_PROGRAMS.has(first.text)) out.push({where: at(node), what: `runs ${first.text}`})
    }
    ts.forEachChild(node, visit)
  }
  visit(file.ast)
  return out
}

describe('side effects live in src/system/', () => {
  const files = sources()

  it('finds the side effects it looks for (the check itself works)', () => {
    const text = [
      "import {promises as fs, writeFileSync} from 'node:fs'",
      "import {execa} from 'execa'",
      'await fs.rename(a, b)',
      'writeFileSync(f, "x")',
      "await fs.open(f, 'w')",
      "await fs.open(f, 'r')",
      'process.kill(pid, 0)',
      "await runner.run('mount', ['--bind', a, b])",
      "await runner.run('dpkg-query', ['-W'])",
    ].join('\n')
    const probe: SourceFile = {rel: 'probe.ts', folder: 'probe', ast: ts.createSourceFile('probe.ts', text, ts.ScriptTarget.ES2022, true)}
    expect(findings(probe).map((f) => f.what)).toEqual(['imports execa', 'fs.rename', 'fs.writeFileSync', 'fs.open for writing', 'process.kill', 'runs mount'])
  })

  it('has no process spawning, kill, mount or filesystem write outside src/system/', () => {
    const outside = files.filter((f) => f.folder !== 'system').flatMap(findings).map((f) => `${f.where} ${f.what}`)
    expect(outside, `move these into src/system/ (see ${path.join('test', 'arch', 'side-effects.unit.test.ts')})`).toEqual([])
  })
})
