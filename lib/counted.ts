/** "1 block", "4 blocks": a count and its noun, the noun in the plural by adding an s unless the count is 1. */
export function counted(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
