/**
 * The sources under src/, parsed once with the TypeScript compiler, for the architecture tests:
 * every import (with the folder it comes from and goes to) and every call, with its line.
 */
import {readdirSync, readFileSync} from 'node:fs'
import path from 'node:path'
import ts from 'typescript'

export const SRC = path.resolve(import.meta.dirname, '../../src')

export interface SourceFile {
  /** Path relative to src/, with forward slashes. */
  rel: string
  /** The top folder under src/ ("system", "commands"...), or the file's base name for a file at src/ itself. */
  folder: string
  ast: ts.SourceFile
}

function walk(dir: string): string[] {
  return readdirSync(dir, {withFileTypes: true}).flatMap((e) => {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) return walk(p)
    return e.name.endsWith('.ts') ? [p] : []
  })
}

export function folderOf(rel: string): string {
  const [first, ...rest] = rel.split('/')
  return rest.length === 0 ? first.replace(/\.ts$/, '') : first
}

export function sources(): SourceFile[] {
  return walk(SRC).sort().map((file) => {
    const rel = path.relative(SRC, file).split(path.sep).join('/')
    return {rel, folder: folderOf(rel), ast: ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true)}
  })
}

export function lineOf(file: SourceFile, node: ts.Node): number {
  return file.ast.getLineAndCharacterOfPosition(node.getStart(file.ast)).line + 1
}

export interface ImportRef {
  /** The module specifier as written. */
  spec: string
  /** For a relative import: the imported file relative to src/. */
  target?: string
  typeOnly: boolean
  line: number
}

/** Every import and re-export of a file (static and dynamic). */
export function importsOf(file: SourceFile): ImportRef[] {
  const out: ImportRef[] = []
  const add = (spec: string, typeOnly: boolean, node: ts.Node) => {
    const target = spec.startsWith('.')
      ? path.posix.normalize(path.posix.join(path.posix.dirname(file.rel), spec)).replace(/\.js$/, '.ts')
      : undefined
    out.push({spec, target, typeOnly, line: lineOf(file, node)})
  }
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      const typeOnly = ts.isImportDeclaration(node) ? Boolean(node.importClause?.isTypeOnly) : node.isTypeOnly
      add(node.moduleSpecifier.text, typeOnly, node)
    }
    if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteral(node.arguments[0])) {
      add(node.arguments[0].text, false, node)
    }
    ts.forEachChild(node, visit)
  }
  visit(file.ast)
  return out
}
