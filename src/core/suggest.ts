// "Did you mean …?" for a mistyped command: the closest known name by edit distance, where a swap
// of two neighbouring letters counts as one edit (stauts → status).

/** Optimal string alignment distance (Damerau–Levenshtein without repeated edits of a substring). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The known word `typed` most likely meant, or undefined when none is close: at most one edit for
 * short words, two from five letters on, or a known word that starts with what was typed (3+ letters).
 */
export function suggestSimilar(typed: string, known: readonly string[]): string | undefined {
  const word = typed.toLowerCase();
  const limit = word.length >= 5 ? 2 : 1;
  let best: { name: string; distance: number } | undefined;
  for (const name of known) {
    const distance = editDistance(word, name);
    if (distance <= limit && (!best || distance < best.distance)) best = { name, distance };
  }
  if (best) return best.name;
  return word.length >= 3 ? known.find((name) => name.startsWith(word)) : undefined;
}
