/**
 * Small, exact edits of an NFS-Ganesha configuration text, for the lab's delta and the checker's
 * candidate: everything not named is kept byte for byte. Ganesha's syntax: `NAME { ... }` blocks
 * (nested), `Key = value;` parameters, `#` comments, double-quoted strings, `%include "file"`.
 */

interface Block {
  name: string
  /** Offsets of its "{" and its matching "}". */
  open: number
  close: number
  parent?: Block
}

/** Every block of the text, outermost first, with its name and braces; comments and strings skipped. */
function blocksOf(text: string): Block[] {
  const blocks: Block[] = []
  const stack: Block[] = []
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (c === '#') {
      const end = text.indexOf('\n', i)
      i = end === -1 ? text.length : end
    } else if (c === '"') {
      const end = text.indexOf('"', i + 1)
      i = end === -1 ? text.length : end
    } else if (c === '{') {
      const name = /([A-Za-z_][A-Za-z0-9_]*)\s*$/.exec(text.slice(0, i))?.[1] ?? ''
      const block: Block = {name: name.toUpperCase(), open: i, close: text.length, parent: stack.at(-1)}
      blocks.push(block)
      stack.push(block)
    } else if (c === '}') {
      const block = stack.pop()
      if (block) block.close = i
    }
  }
  return blocks
}

function depthOf(b: Block): number {
  let d = 0
  for (let p = b.parent; p; p = p.parent) d++
  return d
}

/** The last block at this nesting that has this name: when Ganesha reads a block twice, the last one counts. */
function lastBlock(blocks: readonly Block[], parent: Block | undefined, name: string): Block | undefined {
  return blocks.filter((b) => b.parent === parent && b.name === name.toUpperCase()).at(-1)
}

function nested(path: readonly string[], param: string): string {
  return path.reduceRight((inner, name) => `${name} { ${inner} }`, param)
}

/**
 * Sets `key = value;` in the block at `path` (e.g. ["LOG", "COMPONENTS"]) by adding it as the
 * block's last parameter, so it wins over an earlier one of the same name (Ganesha takes the
 * last). A block that is missing is added, never repeated: a second NFS_CORE_PARAM block would
 * reset every parameter of the first to its default.
 */
export function setGaneshaParam(text: string, path: readonly string[], key: string, value: string): string {
  const blocks = blocksOf(text)
  let found: Block | undefined
  let depth = 0
  for (; depth < path.length; depth++) {
    const next = lastBlock(blocks, found, path[depth])
    if (!next) break
    found = next
  }
  const param = nested(path.slice(depth), `${key} = ${value};`)
  if (!found) return `${text.replace(/\n*$/, '\n')}${path[0]} {\n  ${nested(path.slice(1), `${key} = ${value};`)}\n}\n`
  const lineStart = text.lastIndexOf('\n', found.close - 1) + 1
  if (text.slice(lineStart, found.close).trim() === '') {
    const indent = '  '.repeat(depthOf(found) + 1)
    return `${text.slice(0, lineStart)}${indent}${param}\n${text.slice(lineStart)}`
  }
  const before = text.slice(0, found.close)
  return `${before}${/\s$/.test(before) ? '' : ' '}${param} ${text.slice(found.close)}`
}

const INCLUDE = /^(\s*%include\s+)("([^"]*)"|(\S+))(.*)$/

/** Every %include line's file mapped through `to`; other lines untouched. */
export function mapGaneshaIncludes(text: string, to: (file: string) => string): string {
  return text.split('\n').map((line) => {
    const m = INCLUDE.exec(line)
    return m ? `${m[1]}"${to(m[3] ?? m[4])}"${m[5]}` : line
  }).join('\n')
}

/** The files a configuration text %includes, in order. */
export function ganeshaIncludes(text: string): string[] {
  return text.split('\n').flatMap((line) => {
    const m = INCLUDE.exec(line)
    return m ? [m[3] ?? m[4]] : []
  })
}

const PATH_PARAM = /(?<![\w])(Path\s*=\s*)("([^"]*)"|([^\s;"]+))(\s*;)/gi

/** Each EXPORT block's `Path` mapped through `to`; its Pseudo and everything else untouched. */
export function mapGaneshaExportPaths(text: string, to: (path: string) => string): string {
  const exports = blocksOf(text).filter((b) => !b.parent && b.name === 'EXPORT')
  let out = ''
  let at = 0
  for (const b of exports) {
    const body = text.slice(b.open, b.close)
    // Only the EXPORT's own parameters: a Path inside a sub-block (FSAL...) is not the export's.
    const subBlocks = blocksOf(body).filter((inner) => inner.parent?.open === 0)
    const own = (offset: number) => !subBlocks.some((inner) => offset > inner.open && offset < inner.close)
    out += text.slice(at, b.open) + body.replace(PATH_PARAM, (whole: string, lead: string, _v: string, quoted: string | undefined, bare: string | undefined, tail: string, offset: number) =>
      (own(offset) ? `${lead}"${to(quoted ?? bare ?? '')}"${tail}` : whole))
    at = b.close
  }
  return out + text.slice(at)
}
