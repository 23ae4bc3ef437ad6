/** "Did you mean": the known word a typo most likely was, for unknown fields, flags and commands. */

/** Edits between two words, a swap of neighbours counting as one (mca → mac). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({length: a.length + 1}, (_, i) => [i, ...Array<number>(b.length).fill(0)])
  for (let j = 1; j <= b.length; j++) d[0][j] = j
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1)
    }
  }
  return d[a.length][b.length]
}

/** The known word closest to `word`, when it is close enough to be what was meant (about a third of it wrong at most). */
export function closest(word: string, known: Iterable<string>): string | undefined {
  let best: {word: string, distance: number} | undefined
  for (const candidate of known) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase())
    if (!best || distance < best.distance) best = {word: candidate, distance}
  }
  return best && best.distance <= Math.max(1, Math.floor(Math.max(word.length, best.word.length) / 3)) ? best.word : undefined
}
