/**
 * The positional words as typed, in order. oclif's argv drops a second "--" and moves the first
 * to the front ("image exec lab -- sh -c 'echo \"$1\"' -- hi" would lose the one sh needs), while
 * its raw tokens keep every word where it was.
 */
export function wordsInOrder(raw: readonly {type: string, input: string}[]): string[] {
  return raw.filter((token) => token.type === 'arg').map((token) => token.input)
}
