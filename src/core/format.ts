// Number formatting without Intl: the first toLocaleString() of a process loads ICU's locale data,
// about 10 ms, a third of Node's own start-up and more than the rest of an offline dry run's work.

/** 1234567 → "1,234,567" (en-US grouping); fractions keep their digits as given. */
export function groupThousands(n: number): string {
  const [whole = '', fraction] = String(Math.abs(n)).split('.');
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${n < 0 ? '-' : ''}${grouped}${fraction !== undefined ? `.${fraction}` : ''}`;
}
